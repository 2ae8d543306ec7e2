"""The guards of training: each refuses with its own code, each override trains and is recorded."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from processor.config import PipelinesConfig, Settings, load_settings
from processor.errors import ConfigError
from processor.serving.artifact import CHECKSUMS_FILE, verify_artifact
from processor.training.training import REPORT_FILE, Guards, TrainingResult, train_model

FRESH = datetime(2024, 7, 15, tzinfo=UTC)  # the synthetic sign-ups run 2024-06-01 .. 07-01
Signups = Callable[..., list[dict[str, Any]]]
Train = Callable[..., TrainingResult]


@pytest.fixture
def train(tmp_path: Path, pipelines: PipelinesConfig, jsonl: Callable[..., Path]) -> Train:
    """``train(events, **options)``: a user_signed_up model from inline labels, at ``FRESH`` by default."""

    def run(events: list[dict[str, Any]], settings: Settings | None = None, **options: Any) -> TrainingResult:
        path = jsonl(tmp_path / "events.jsonl", events)
        kwargs: dict[str, Any] = {"event_type": "user_signed_up", "now": FRESH} | options
        settings = settings or load_settings(models={"dir": tmp_path / "models"})
        return train_model(events_path=path, settings=settings, pipelines=pipelines, **kwargs)

    return run


def _refused(run: Callable[[], object]) -> str:
    with pytest.raises(ConfigError) as info:
        run()
    return info.value.code


def test_a_random_split_is_refused(tmp_path: Path, train: Train, make_signups: Signups) -> None:
    events = make_signups(400)
    assert _refused(lambda: train(events, split="random")) == "random_split_refused"
    assert not (tmp_path / "models").exists()


def test_stale_data_is_refused_unless_allowed(tmp_path: Path, train: Train, make_signups: Signups) -> None:
    events = make_signups(400)
    late = datetime(2025, 1, 1, tzinfo=UTC)  # the newest event is six months old by then
    assert _refused(lambda: train(events, now=late)) == "stale_data"
    assert not (tmp_path / "models").exists()  # nothing is written when refusing

    result = train(events, now=late, guards=Guards(allow_stale=True))
    meta = result.artifact.metadata()
    assert meta["guards"]["stale_data"]["status"] == "overridden"
    assert meta["guard_overrides"] == {"allow_stale": True}
    assert any("stale_data guard overridden" in w for w in result.warnings)
    # the configured age decides: a year-long allowance accepts the same data
    lenient = load_settings(models={"dir": tmp_path / "lenient"}, training={"max_data_age_days": 365})
    assert train(events, settings=lenient, now=late).guards["stale_data"]["status"] == "passed"


def test_too_few_labels_is_refused_unless_allowed(train: Train, make_signups: Signups) -> None:
    events = make_signups(150)  # under the default minimum of 200 labelled rows
    assert _refused(lambda: train(events)) == "too_few_labels"
    result = train(events, guards=Guards(allow_few_labels=True))
    assert result.guards["labels"]["status"] == "overridden"
    # below the hard floor nothing trains, override or not
    assert _refused(lambda: train(make_signups(15), guards=Guards(allow_few_labels=True))) == "too_few_labels"


def test_one_class_only_is_refused_even_with_overrides(train: Train, make_signups: Signups) -> None:
    events = [dict(e, label="legit") for e in make_signups(300)]
    everything = Guards(allow_stale=True, allow_few_labels=True, allow_leaky=True, allow_shift=True)
    assert _refused(lambda: train(events, guards=everything)) == "one_class_only"


def test_a_leaky_feature_is_refused_unless_allowed(train: Train, make_signups: Signups) -> None:
    # age_years copied from the outcome: alone it separates the labels perfectly
    events = [dict(e, age_years=70 if e["label"] == "fraud" else 30) for e in make_signups(400)]
    with pytest.raises(ConfigError) as info:
        train(events)
    assert info.value.code == "leaky_feature"
    assert "age_years" in str(info.value) and "--allow-leaky" in str(info.value)

    result = train(events, guards=Guards(allow_leaky=True))
    meta = result.artifact.metadata()
    assert meta["leakage"]["suspects"] == ["age_years"]
    assert meta["leakage"]["single_feature_auc"]["age_years"] == pytest.approx(1.0)
    assert meta["guards"]["leaky_feature"]["status"] == "overridden"


def test_a_label_shift_between_train_and_validation_is_refused_unless_allowed(
    train: Train, make_signups: Signups
) -> None:
    events = make_signups(600, seed=3)
    # the newest fifth becomes mostly fraud: the validation split no longer looks like training
    for e in events[-120:]:
        e["label"] = "fraud" if hash(e["event_id"]) % 10 < 8 else "legit"
    with pytest.raises(ConfigError) as info:
        train(events)
    assert info.value.code == "distribution_shift"
    assert "positive rate" in str(info.value)
    result = train(events, guards=Guards(allow_shift=True))
    shift = result.artifact.metadata()["shift"]
    assert shift["valid_rate"] > 3 * shift["train_rate"]


def test_the_artifact_holds_baselines_calibration_report_and_checksums(train: Train, make_signups: Signups) -> None:
    result = train(make_signups(600, seed=4))
    assert set(result.baselines) == {"class_prior", "logistic_regression"}
    lr = result.baselines["logistic_regression"]
    assert 0.5 < lr["roc_auc"] <= 1.0 and result.baselines["class_prior"]["roc_auc"] == 0.5
    meta = verify_artifact(result.artifact)
    evaluation = meta["evaluation"]
    for name in ("model", "class_prior", "logistic_regression"):
        bins = evaluation[name]["calibration"]
        assert sum(b["count"] for b in bins) == result.n_valid
        assert all(0.0 <= b["observed_rate"] <= 1.0 for b in bins)
        assert {"roc_auc", "pr_auc", "log_loss", "brier", "ece"} <= set(evaluation[name])
    split = meta["split"]
    assert split["method"] == "time" and split["train_until"] < split["valid_from"]
    assert meta["model_selection"]["chosen"] in meta["model_selection"]["candidates"]
    assert "on_validation" in meta["thresholds"]
    # one checksum per file, metadata.json included (SHA256SUMS), report.html and model.txt in both
    sums = (result.artifact.path / CHECKSUMS_FILE).read_text().split("\n")
    names = sorted(line.split("  ")[1] for line in sums if line)
    assert names == ["metadata.json", "model.txt", REPORT_FILE]
    assert set(meta["files"]) == {"model.txt", REPORT_FILE}
    report = (result.artifact.path / REPORT_FILE).read_text()
    assert report.count("data:image/png;base64,") == 5
    for title in ("ROC curve", "Precision-recall", "Calibration", "Feature importance", "score by true class"):
        assert title in report
    assert "logistic_regression" in report and result.artifact.version in report
    json.loads((result.artifact.path / "metadata.json").read_text(), parse_constant=pytest.fail)


def test_the_cli_refuses_a_random_split_with_a_clear_error(
    tmp_path: Path, jsonl: Callable[..., Path], make_signups: Signups, capsys: pytest.CaptureFixture[str]
) -> None:
    from processor.cli import main

    path = jsonl(tmp_path / "events.jsonl", make_signups(300))
    code = main(
        ["train", "--event-type", "user_signed_up", "--events", str(path), "--split", "random", "--no-progress"]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert "random_split_refused" in err and "time split" in err
    assert not (tmp_path / "models").exists()
