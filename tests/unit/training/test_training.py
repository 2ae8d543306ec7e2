"""End-to-end training on a synthetic sign-up stream: files in, a loadable artifact out."""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pytest

from helpers.records import T0
from processor.config import PipelinesConfig, Settings, load_settings
from processor.errors import ConfigError
from processor.features import load_feature_module
from processor.serving.artifact import latest_artifact
from processor.training.training import MIN_LABELLED_ROWS, TrainingResult, format_result, train_model

NOW = datetime(2024, 7, 15, tzinfo=UTC)  # two weeks after the synthetic data ends: fresh enough
Signups = Callable[..., list[dict[str, Any]]]
Jsonl = Callable[..., Path]
Train = Callable[..., TrainingResult]


@pytest.fixture
def write_events(tmp_path: Path, jsonl: Jsonl) -> Jsonl:
    """``write_events(items, extra_lines=())``: ``tmp_path/events.jsonl``."""

    def write(items: list[dict[str, Any]], extra_lines: tuple[str, ...] = ()) -> Path:
        return jsonl(tmp_path / "events.jsonl", items, extra_lines=extra_lines)

    return write


@pytest.fixture
def train(settings_for: Callable[[], Settings], pipelines: PipelinesConfig) -> Train:
    """``train(events, settings=None, **options)``: a ``user_signed_up`` model trained at ``NOW``,
    without a labels file, stored under ``tmp_path/models`` unless ``settings`` say otherwise."""

    def run(events: Path, settings: Settings | None = None, **kwargs: Any) -> TrainingResult:
        options: dict[str, Any] = {"event_type": "user_signed_up", "labels_path": None, "now": NOW}
        options.update(kwargs)
        return train_model(events_path=events, settings=settings or settings_for(), pipelines=pipelines, **options)

    return run


def test_trains_a_loadable_artifact(
    settings_for: Callable[[], Settings], train: Train, write_events: Jsonl, make_signups: Signups, jira: dict[str, Any]
) -> None:
    events = make_signups(400)
    unlabelled = dict(events[5], event_id="su-unlabelled", occurred_at=events[5]["occurred_at"] + 1)
    del unlabelled["label"]
    too_young = dict(events[6], event_id="su-young", age_years=5)  # semantic check: age 13..120
    no_email = {k: v for k, v in events[7].items() if k != "email"} | {"event_id": "su-no-email"}
    path = write_events(
        [*events, unlabelled, too_young, no_email, dict(events[0]), jira], extra_lines=("{not json", "", "[1, 2]")
    )
    settings = settings_for()
    result = train(path, settings)

    d = result.data
    assert d.lines == 408  # 400 + 5 records + 3 raw lines (one blank)
    assert (d.rows, d.labelled) == (401, 400)
    assert d.skipped_duplicate == 1
    assert d.skipped_other_type == 1
    assert d.skipped_invalid == 4
    assert d.skipped_invalid_by_code == {"invalid_json": 1, "missing_field": 1, "not_an_object": 1, "out_of_range": 1}

    assert result.n_train + result.n_valid == 400
    assert result.n_valid == 80
    assert result.train_range[1] < result.valid_range[0]  # time split: validation is strictly newer
    assert result.metrics["roc_auc"] > 0.85 > result.baseline_metrics["roc_auc"] == 0.5
    assert result.metrics["log_loss"] < result.baseline_metrics["log_loss"]

    ref = result.artifact
    assert latest_artifact(settings.models.dir, "user_signed_up") == ref
    meta = ref.metadata()
    module = load_feature_module("user_signed_up")
    assert meta["feature_names"] == list(module.FEATURE_NAMES)
    assert meta["feature_module"] == "user_signed_up"
    assert meta["positive_label"] == "fraud"
    assert meta["created_at"] == NOW.isoformat()
    assert meta["version"].startswith("20240715T000000Z-")
    assert meta["data"]["sha256"] == d.events_sha256 and len(d.events_sha256) == 64
    assert meta["data"]["first_occurred_at"].startswith("2024-06-01")
    split = meta["split"]
    assert split["train_until_ms"] < split["valid_from_ms"]
    assert (split["n_train"], split["n_valid"]) == (result.n_train, result.n_valid)
    assert meta["metrics"] == pytest.approx(result.metrics)
    assert meta["best_iteration"] == result.best_iteration >= 1
    assert meta["params"]["deterministic"] is True
    for name in [*module.FEATURE_NAMES]:
        hist = meta["reference"]["features"][name]
        assert len(hist["shares"]) == len(hist["edges"]) + 1 or hist["shares"] == []
        assert len(hist["edges"]) <= 9
        assert sum(hist["shares"]) + hist["null_share"] == pytest.approx(1.0)
        if hist["edges"]:  # the range seen in training, for out-of-range escalation
            assert hist["min"] <= hist["edges"][0] and hist["edges"][-1] <= hist["max"]
    score_ref = meta["reference"]["score"]
    assert score_ref["count"] == result.n_valid and score_ref["null_share"] == 0.0
    assert meta["reference"]["features"]["ip_country_mismatch"]["null_share"] > 0  # ip_country is sometimes null
    assert set(result.feature_importance) == set(module.FEATURE_NAMES)

    booster = lgb.Booster(model_file=str(ref.model_path))
    assert booster.feature_name() == list(module.FEATURE_NAMES)
    x = np.array([module.compute(e, {}) for e in events[:10]], dtype=np.float64)
    scores = np.asarray(booster.predict(x), dtype=np.float64)
    assert scores.shape == (10,) and np.all((scores >= 0) & (scores <= 1))

    summary = format_result(result)
    assert ref.version in summary and "roc_auc" in summary and "baseline" in summary


def test_is_deterministic(tmp_path: Path, train: Train, write_events: Jsonl, make_signups: Signups) -> None:
    path = write_events(make_signups(300, seed=5))
    first = train(path, load_settings(models={"dir": tmp_path / "a"}))
    second = train(path, load_settings(models={"dir": tmp_path / "b"}))
    a, b = first.artifact.model_path.read_text(), second.artifact.model_path.read_text()
    # on a mismatch, show where the texts part (a tree, a threshold, the parameters) rather than two hashes
    assert a == b, "".join(list(difflib.unified_diff(a.splitlines(True), b.splitlines(True), n=1))[:40])
    assert first.artifact.version == second.artifact.version
    assert first.metrics == second.metrics


def test_labels_file_wins_over_inline_labels(
    tmp_path: Path, train: Train, write_events: Jsonl, jsonl: Jsonl, make_signups: Signups
) -> None:
    events = make_signups(300, seed=2)
    path = write_events(events)
    # Only the first 200 events get labels (flipped, to prove the file is what counts); later lines win.
    labels = [{"event_id": e["event_id"], "label": "wrong", "reviewer": "x"} for e in events[:200]]
    labels += [
        {"event_id": e["event_id"], "label": "legit" if e["label"] == "fraud" else "fraud"} for e in events[:200]
    ]
    labels_path = jsonl(tmp_path / "labels.jsonl", labels, extra_lines=("garbage", '{"event_id": "x"}'))
    result = train(path, labels_path=labels_path)
    assert result.data.labelled == 200
    assert result.data.labels_invalid == 2
    assert result.data.positives == sum(e["label"] == "legit" for e in events[:200])
    assert result.artifact.metadata()["data"]["labels_file"] == "labels.jsonl"


def test_refuses_too_few_labels(train: Train, write_events: Jsonl, make_signups: Signups) -> None:
    path = write_events(make_signups(MIN_LABELLED_ROWS - 1))
    with pytest.raises(ConfigError) as info:
        train(path)
    assert info.value.code == "too_few_labels"


def test_refuses_one_class(tmp_path: Path, train: Train, write_events: Jsonl, make_signups: Signups) -> None:
    events = [dict(e, label="legit") for e in make_signups(200)]
    path = write_events(events)
    with pytest.raises(ConfigError) as info:
        train(path)
    assert info.value.code == "one_class_only"
    assert not (tmp_path / "models").exists()  # nothing written when refusing


def test_history_counts_only_the_past(
    train: Train, write_events: Jsonl, make_signups: Signups, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A burst from one IP, written newest first: each event counts only the earlier ones, in event time."""
    module = load_feature_module("user_signed_up")
    seen: dict[str, Mapping[str, int]] = {}
    original = module.compute

    def spy(record: Mapping[str, Any], history: Mapping[str, int]) -> list[float]:
        seen[record["event_id"]] = dict(history)
        return original(record, history)

    monkeypatch.setattr(module, "compute", spy)
    events = make_signups(200)
    burst = [
        dict(events[0], event_id=f"burst-{i}", ip_address="192.0.2.1", occurred_at=T0 + 20 * 60_000 * i, label="fraud")
        for i in range(5)
    ]
    unlabelled = {k: v for k, v in burst[0].items() if k != "label"} | {"event_id": "burst-x", "occurred_at": T0 - 1}
    path = write_events([*reversed(burst), unlabelled, *events])
    train(path)
    # 20 minutes apart: the 1 h window holds at most the 2 previous ones (t - 60 min is inclusive: 3),
    # the 24 h window all previous ones plus the unlabelled event just before the burst.
    assert [seen[f"burst-{i}"]["signups_same_ip_1h"] for i in range(5)] == [1, 2, 3, 3, 3]
    assert [seen[f"burst-{i}"]["signups_same_ip_24h"] for i in range(5)] == [1, 2, 3, 4, 5]
    assert "burst-x" not in seen  # unlabelled: fed to history, not featurized


def test_unknown_event_type(train: Train, write_events: Jsonl) -> None:
    path = write_events([])
    with pytest.raises(ConfigError) as info:
        train(path, event_type="nope")
    assert info.value.code == "unknown_event_type"


def test_metadata_is_strict_json(train: Train, write_events: Jsonl, make_signups: Signups) -> None:
    path = write_events(make_signups(200))
    result = train(path)
    text = (result.artifact.path / "metadata.json").read_text()
    json.loads(text, parse_constant=lambda c: pytest.fail(f"metadata contains {c}"))
