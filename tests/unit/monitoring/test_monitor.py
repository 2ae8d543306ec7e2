from __future__ import annotations

import math
from typing import Any

import numpy as np
from prometheus_client import CollectorRegistry, Histogram

from processor.batch_stats import BatchStats, DriftSample
from processor.config import MonitoringSettings
from processor.monitoring.drift import ModelReference
from processor.monitoring.metrics import Metrics
from processor.monitoring.monitor import Monitor, observe_many

from .conftest import MetadataFactory, normal_traffic


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _monitor(metadata: MetadataFactory, clock: _Clock, **settings: Any) -> Monitor:
    references = {("t", "v1"): ModelReference.from_metadata(metadata("v1"))}
    return Monitor(
        MonitoringSettings(min_window_events=300, evaluate_interval_s=5, **settings),
        Metrics.create(CollectorRegistry()),
        ["t"],
        "events.raw",
        references=lambda event_type, version: references.get((event_type, version)),
        dependencies=lambda: {"redis": True, "kafka": False},
        lag=lambda: {0: 12, 3: 0},
        clock=clock,
    )


def _batch(features: np.ndarray, scores: np.ndarray | None, version: str | None = "v1") -> BatchStats:
    stats = BatchStats(inputs=features.shape[0])
    stats.outcomes[("t", "scored")] = features.shape[0]
    stats.drift.append(DriftSample("t", version, features, scores))
    stats.event_ms["t"].extend([0] * features.shape[0])
    return stats


def _value(monitor: Monitor, name: str, **labels: str) -> float:
    value = monitor.metrics.registry.get_sample_value(name, labels)
    assert value is not None, (name, labels)
    return value


def test_gauges_show_drift_of_the_active_model(metadata: MetadataFactory) -> None:
    clock = _Clock()
    monitor = _monitor(metadata, clock)
    features, scores = normal_traffic(np.random.default_rng(5), 1_000)
    monitor.observe(_batch(features, scores))
    monitor.evaluate()
    assert _value(monitor, "processor_feature_psi", event_type="t", feature="amount") < 0.05
    assert _value(monitor, "processor_drift_window_events", event_type="t") == 1_000
    assert _value(monitor, "processor_input_events_total", topic="events.raw", event_type="t") == 1_000
    assert _value(monitor, "processor_confidence_count", event_type="t") == 1_000
    assert _value(monitor, "processor_event_time_lag_seconds_count", event_type="t") == 1_000
    assert _value(monitor, "processor_dependency_up", dependency="kafka") == 0
    assert _value(monitor, "processor_consumer_lag_messages", partition="0") == 12
    assert monitor.firing() == []

    clock.now = 10.0
    features[:, 0] *= 6
    monitor.observe(_batch(features, np.full(1_000, 0.5)))
    monitor.tick()
    assert _value(monitor, "processor_feature_psi", event_type="t", feature="amount") > 0.25
    assert _value(monitor, "processor_score_stddev", event_type="t") < 0.5


def test_a_new_model_version_starts_a_fresh_window_and_unknown_versions_are_skipped(
    metadata: MetadataFactory,
) -> None:
    clock = _Clock()
    monitor = _monitor(metadata, clock)
    features, scores = normal_traffic(np.random.default_rng(6), 500)
    monitor.observe(_batch(features, scores, version="v0"))  # no reference for it
    assert "t" not in monitor.windows
    monitor.observe(_batch(features, scores, version="v1"))
    assert monitor.windows["t"].reference.version == "v1"


def test_silent_failures_are_exported_per_detector(metadata: MetadataFactory) -> None:
    clock = _Clock()
    monitor = _monitor(metadata, clock)
    features, _ = normal_traffic(np.random.default_rng(7), 1_000)
    monitor.observe(_batch(features, np.full(1_000, 0.2)))
    monitor.evaluate()
    assert monitor.firing() == [("t", "score_collapsed")]
    assert _value(monitor, "processor_silent_failure", event_type="t", detector="score_collapsed") == 1
    assert _value(monitor, "processor_silent_failure", event_type="t", detector="volume_stopped") == 0


def test_observe_many_matches_observe_one_by_one() -> None:
    values = np.random.default_rng(8).random(1_000)
    values[:5] = [0.5, 0.55, 1.0, 0.0, 0.99]  # exactly on bucket bounds
    registry = CollectorRegistry()
    bulk = Histogram("bulk", "", buckets=(0.5, 0.55, 0.9, 0.99, 1.0), registry=registry)
    loop = Histogram("loop", "", buckets=(0.5, 0.55, 0.9, 0.99, 1.0), registry=registry)
    observe_many(bulk, values)
    for v in values:
        loop.observe(float(v))
    for le in ("0.5", "0.55", "0.9", "0.99", "1.0", "+Inf"):
        assert registry.get_sample_value("bulk_bucket", {"le": le}) == registry.get_sample_value(
            "loop_bucket", {"le": le}
        )
    assert math.isclose(registry.get_sample_value("bulk_sum") or 0, registry.get_sample_value("loop_sum") or 0)
