"""The worker without a registry (nothing promoted): the newest artifact that verifies serves; one
that fails verification is refused, counted, and the previous model keeps serving."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from processor.config import PipelinesConfig, load_settings
from processor.features import load_feature_module
from processor.serving.artifact import MODEL_FILE, list_versions
from processor.serving.worker import ModelWorker
from processor.training.training import TrainingResult, train_model

NOW = datetime(2024, 7, 15, tzinfo=UTC)


@pytest.fixture
def trained(tmp_path: Path, pipelines: PipelinesConfig, jsonl: Any, make_signups: Any) -> TrainingResult:
    path = jsonl(tmp_path / "events.jsonl", make_signups(400))
    settings = load_settings(models={"dir": tmp_path / "models"})
    return train_model(event_type="user_signed_up", events_path=path, settings=settings, pipelines=pipelines, now=NOW)


def _copy_as(result: TrainingResult, version: str) -> Path:
    target = result.artifact.path.parent / version
    shutil.copytree(result.artifact.path, target)
    meta = target / "metadata.json"
    meta.write_text(meta.read_text().replace(result.artifact.version, version))
    return target


def _refused(worker: ModelWorker, reason: str) -> float:
    value = worker.metrics.registry.get_sample_value(
        "processor_model_refused_total", {"event_type": "user_signed_up", "reason": reason}
    )
    return value or 0.0


def test_a_corrupted_newer_artifact_is_refused_and_the_old_model_keeps_serving(trained: TrainingResult) -> None:
    modules = {"user_signed_up": load_feature_module("user_signed_up")}
    models_dir = trained.artifact.path.parent.parent
    worker = ModelWorker(models_dir, modules, reload_interval_s=0.01, latency_budget_ms=5_000)
    features = np.zeros((3, len(modules["user_signed_up"].FEATURE_NAMES)))
    assert worker.score("user_signed_up", features).model_version == trained.artifact.version

    newer = _copy_as(trained, "29990101T000000Z-deadbeef")
    model = newer / MODEL_FILE
    model.write_text(model.read_text().replace("leaf_value=", "leaf_value=1", 1))  # one flipped digit
    # metadata.json was edited too, so its checksum fails first: either way the version is refused
    worker.maybe_reload(force=True)
    result = worker.score("user_signed_up", features)
    assert result.model_version == trained.artifact.version and result.scores is not None
    assert _refused(worker, "checksum_mismatch") == 1
    assert worker.load_errors["user_signed_up"].startswith("29990101T000000Z-deadbeef:")
    worker.maybe_reload(force=True)  # refused once: not retried (nor counted) on every interval
    assert _refused(worker, "checksum_mismatch") == 1
    worker.close()


def test_a_feature_list_that_differs_from_the_serving_code_is_refused(trained: TrainingResult) -> None:
    models_dir = trained.artifact.path.parent.parent
    module = load_feature_module("user_signed_up")

    class Renamed:
        HISTORY = module.HISTORY
        FEATURE_NAMES = (*module.FEATURE_NAMES[:-1], "renamed")
        compute = staticmethod(module.compute)

    worker = ModelWorker(models_dir, {"user_signed_up": Renamed()}, reload_interval_s=1, latency_budget_ms=5_000)
    assert worker.versions == {}
    assert _refused(worker, "feature_mismatch") == 1
    assert [r.version for r in list_versions(models_dir, "user_signed_up")] == [trained.artifact.version]
    worker.close()


class _Slow:
    """A booster that takes ``seconds`` per call (the real one underneath)."""

    def __init__(self, booster: Any, seconds: float) -> None:
        self.booster, self.seconds = booster, seconds

    def predict(self, features: Any, num_threads: int = 1) -> Any:
        import time

        time.sleep(self.seconds)
        return self.booster.predict(features, num_threads=num_threads)


def _worker(trained: TrainingResult, budget_ms: int) -> ModelWorker:
    return ModelWorker(
        trained.artifact.path.parent.parent,
        {"user_signed_up": load_feature_module("user_signed_up")},
        reload_interval_s=60,
        latency_budget_ms=budget_ms,
    )


def _slow_down(worker: ModelWorker, seconds: float) -> None:
    from dataclasses import replace

    model = worker._models["user_signed_up"]
    real = model.booster.booster if isinstance(model.booster, _Slow) else model.booster
    worker._models["user_signed_up"] = replace(model, booster=_Slow(real, seconds))


def test_calls_submitted_together_queue_and_each_gets_its_own_budget(trained: TrainingResult) -> None:
    worker = _worker(trained, budget_ms=400)
    _slow_down(worker, 0.25)  # two calls take 0.5 s in all, each well within its 0.4 s
    n = len(load_feature_module("user_signed_up").FEATURE_NAMES)
    first, second = np.zeros((3, n)), np.ones((2, n))
    pending = [worker.submit("user_signed_up", first), worker.submit("user_signed_up", second)]
    results = [worker.result(p) for p in pending]
    worker.close()
    assert [r.failure for r in results] == [None, None]
    assert [r.scores.shape for r in results if r.scores is not None] == [(3,), (2,)]


def test_a_call_over_its_budget_falls_back_and_holds_back_the_next_until_it_ends(trained: TrainingResult) -> None:
    import time

    worker = _worker(trained, budget_ms=100)
    _slow_down(worker, 0.4)
    features = np.zeros((2, len(load_feature_module("user_signed_up").FEATURE_NAMES)))
    assert worker.score("user_signed_up", features).failure == "latency_budget"
    assert worker.score("user_signed_up", features).failure == "latency_budget"  # the thread is still busy
    time.sleep(0.5)
    late = worker.submit("user_signed_up", features)
    time.sleep(0.5)  # done by now, but it took longer than the budget
    assert worker.result(late).failure == "latency_budget"
    _slow_down(worker, 0.0)
    assert worker.score("user_signed_up", features).failure is None
    worker.close()
