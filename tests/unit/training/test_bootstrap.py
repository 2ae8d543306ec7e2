"""`processor models bootstrap` on an empty models directory, then again, then with a damaged model."""

from __future__ import annotations

from pathlib import Path

import pytest

from processor.cli import main
from processor.config import load_pipelines, load_settings
from processor.errors import ConfigError
from processor.features import load_feature_module
from processor.serving.artifact import MODEL_FILE, latest_artifact, list_versions
from processor.serving.registry import check_loadable
from processor.training.bootstrap import bootstrap_models


def test_bootstrap_trains_what_is_missing_keeps_what_loads_and_replaces_what_does_not(
    clean_env: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    models = tmp_path / "models"
    clean_env.setenv("PROCESSOR_MODELS__DIR", str(models))
    # the stack's defaults hold for every guard but stale_data: the 14-day span keeps distribution_shift on
    assert main(["models", "bootstrap"]) == 0
    out = capsys.readouterr().out
    pipelines = load_pipelines(load_settings().pipelines_file)
    for event_type, cfg in pipelines.event_types.items():
        ref = latest_artifact(models, event_type)
        assert ref is not None, out
        check_loadable(ref, load_feature_module(cfg.features or event_type))
        assert f"model for {event_type}: none in {models}: training one" in out
        meta = ref.metadata()
        assert meta["guard_overrides"] == {"allow_stale": True}  # only the stale guard is relaxed
        assert meta["guards"]["distribution_shift"]["status"] == "passed"
    assert "guard relaxed: stale_data: " in out and "14 days of event time" in out

    # idempotent: a restart trains nothing
    settings = load_settings()
    again = bootstrap_models(settings, say=lambda _: None)
    assert [o.trained for o in again] == [False] * len(pipelines.event_types)

    # a model that no longer loads (here: damaged on disk) is replaced, the others kept
    damaged = latest_artifact(models, "document_uploaded")
    assert damaged is not None
    (damaged.path / MODEL_FILE).write_text("tree\n")
    lines: list[str] = []
    outcomes = {o.event_type: o for o in bootstrap_models(settings, say=lines.append)}
    assert outcomes["document_uploaded"].trained
    assert outcomes["document_uploaded"].reason == f"{damaged.version} does not load (checksum_mismatch)"
    assert not outcomes["user_signed_up"].trained and not outcomes["jira_ticket_created"].trained
    assert len(list_versions(models, "document_uploaded")) == 2
    assert any("guard relaxed: stale_data" in line for line in lines)


def test_bootstrap_refuses_an_unknown_event_type(clean_env: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match="no pipeline"):
        bootstrap_models(load_settings(), event_types=["nope"], say=lambda _: None)
