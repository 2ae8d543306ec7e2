"""`processor rules test`: the backtest counts what each rule decides on historical events."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from processor.cli import main
from processor.config import PipelinesConfig, load_settings
from processor.decide.backtest import backtest
from processor.devtools.simulate import FaultMix, simulate, write_jsonl


@pytest.fixture
def history(tmp_path: Path) -> Path:
    path = tmp_path / "signups.jsonl"
    write_jsonl(path, simulate(2_000, seed=3, types=("user_signed_up",), faults=FaultMix.none(), span_s=86_400.0))
    return path


def test_backtest_counts_each_rule(history: Path, tmp_path: Path, pipelines: PipelinesConfig) -> None:
    settings = load_settings(models={"dir": str(tmp_path / "no-models")})
    report = backtest(settings, pipelines, history)
    records = [orjson.loads(line) for line in history.read_bytes().splitlines()]
    enterprise = sum(r["plan"] == "enterprise" and r["country"] not in ("KP", "IR", "SY", "CU") for r in records)
    assert report.events["user_signed_up"] == len(records)
    # without a model the fallback already routes to review; the rule still decides (and is counted)
    assert report.fired[("user_signed_up", "enterprise-manual-check")] == enterprise > 0
    assert report.model_versions["user_signed_up"] is None
    text = report.render()
    assert "enterprise-manual-check" in text and "decisions" in text


def test_cli_prints_the_table(
    history: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], clean_env: pytest.MonkeyPatch
) -> None:
    clean_env.setenv("PROCESSOR_MODELS__DIR", str(tmp_path / "no-models"))
    assert main(["rules", "test", "--events", str(history)]) == 0
    out = capsys.readouterr().out
    assert "changed vs model" in out and "user_signed_up:" in out
