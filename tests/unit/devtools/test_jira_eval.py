"""``make eval`` end to end on the real Hadoop tickets: the fold table, the final slice, the result
file, and the committed docs/results/jira_eval.json reproduced exactly (the run is deterministic)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from processor.config import PROJECT_ROOT
from processor.devtools.jira_eval import main
from processor.devtools.simulate.jira_dataset import DEFAULT_CSV
from processor.serving.artifact import list_versions

COMMITTED = PROJECT_ROOT / "docs" / "results" / "jira_eval.json"
VOLATILE = ("generated_at", "elapsed_s")

pytestmark = pytest.mark.skipif(not DEFAULT_CSV.is_file(), reason="data/jira-hadoop/hadoop_bugs.csv is not present")


def test_make_eval_prints_the_folds_and_the_final_slice_and_reproduces_the_committed_figures(
    clean_env: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    clean_env.setenv("PROCESSOR_MODELS__DIR", str(tmp_path / "models"))
    results = tmp_path / "jira_eval.json"
    assert main(["--quiet", "--results", str(results)]) == 0
    out = capsys.readouterr().out
    assert "over 5 folds: mean ± std (min .. max)" in out
    assert "final slice, scored once" in out
    assert "tickets_same_reporter_30d" in out and "the data has no reporters" in out
    written = json.loads(results.read_text())
    assert "tickets_same_reporter_30d" not in written["features"]
    assert [f["fold"] for f in written["folds"]] == [1, 2, 3, 4, 5]
    (served,) = list_versions(tmp_path / "models", "jira_ticket_created")
    assert served.metadata()["model_kind"] == written["winner"]
    committed = json.loads(COMMITTED.read_text())
    for key in VOLATILE:
        written.pop(key), committed.pop(key)
    assert written == committed, "make eval no longer reproduces docs/results/jira_eval.json: re-run and commit it"
