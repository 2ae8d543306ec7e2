"""The monitor: fed each committed batch, it keeps the drift windows and the traffic window, and
every ``evaluate_interval_s`` turns them into the drift, data-quality and silent-failure gauges.

The loop calls ``observe`` once per committed batch (after the transaction, like every other
metric, so an aborted and redone batch is not counted twice) and ``tick`` on every turn, idle or
not: silence is only visible if somebody keeps looking while nothing arrives.

The reference of each type is the *active* model's: read from the artifact the worker has
loaded, once per version; a new version starts a fresh window.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import numpy.typing as npt

from processor.config import MonitoringSettings
from processor.monitoring.detectors import DETECTORS, TrafficWindow, feature_constant, score_collapsed
from processor.monitoring.drift import DriftWindow, ModelReference, WindowStats
from processor.monitoring.metrics import Metrics

if TYPE_CHECKING:
    from processor.batch_stats import BatchStats
    from processor.serving.artifact import ArtifactRef

log = logging.getLogger(__name__)


class _ArtifactSource(Protocol):
    def active_artifact(self, event_type: str) -> ArtifactRef | None: ...


def worker_references(worker: _ArtifactSource) -> Callable[[str, str], ModelReference | None]:
    """The reference of ``(event_type, version)`` when that version is the one the worker has loaded."""

    def load(event_type: str, version: str) -> ModelReference | None:
        ref = worker.active_artifact(event_type)
        if ref is None or ref.version != version:
            return None
        return ModelReference.from_metadata(ref.metadata())

    return load


def observe_many(histogram: Any, values: npt.NDArray[np.float64]) -> None:
    """``histogram.observe(v)`` for every value, in one bucket count instead of a Python loop.

    Uses prometheus_client's histogram child layout (``_upper_bounds``, ``_buckets``, ``_sum``)
    when it is there (pinned <1), and falls back to the loop otherwise.
    """
    if values.size == 0:
        return
    bounds = getattr(histogram, "_upper_bounds", None)
    buckets = getattr(histogram, "_buckets", None)
    total = getattr(histogram, "_sum", None)
    if bounds is None or buckets is None or total is None or len(bounds) != len(buckets):
        for v in values.tolist():
            histogram.observe(v)
        return
    index = np.searchsorted(np.asarray(bounds, dtype=np.float64), values, side="left")
    for i, n in enumerate(np.bincount(index, minlength=len(bounds)).tolist()):
        if n:
            buckets[i].inc(n)
    total.inc(float(values.sum()))


class Monitor:
    def __init__(
        self,
        settings: MonitoringSettings,
        metrics: Metrics,
        event_types: Iterable[str],
        topic: str,
        *,
        references: Callable[[str, str], ModelReference | None],
        dependencies: Callable[[], Mapping[str, bool]] | None = None,
        lag: Callable[[], Mapping[int, int]] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.metrics = metrics
        self.event_types = tuple(event_types)
        self.topic = topic
        self._references = references
        self._dependencies = dependencies
        self._lag = lag
        self._clock = clock
        self.windows: dict[str, DriftWindow] = {}
        self.traffic = TrafficWindow(self.event_types, settings, clock())
        self._next_evaluation = 0.0
        self._refused: set[tuple[str, str]] = set()  # (type, version) without a usable reference
        self._lag_partitions: set[int] = set()
        self.verdicts: dict[tuple[str, str], bool] = {(t, d): False for t in self.event_types for d in DETECTORS}
        self._serving: dict[str, str] = {}  # event type -> model version its last batch was scored by

    # -- fed by the loop -------------------------------------------------------------------------

    def observe(self, stats: BatchStats) -> None:
        """One committed batch."""
        now = self._clock()
        q = self.metrics
        by_type: dict[str, list[int]] = {}
        for (event_type, outcome), n in stats.outcomes.items():
            counts = by_type.setdefault(event_type, [0, 0])
            counts[0] += n
            if outcome == "quarantined":
                counts[1] += n
        for event_type, (inputs, quarantined) in by_type.items():
            q.input_events.labels(self.topic, event_type).inc(inputs)
            self.traffic.observe(event_type, inputs, quarantined, now)
        wall_ms = time.time() * 1000
        for event_type, stamps in stats.event_ms.items():
            lag = (wall_ms - np.asarray(stamps, dtype=np.float64)) / 1000
            observe_many(q.event_time_lag_seconds.labels(event_type), np.maximum(lag, 0.0))
        for sample in stats.drift:
            if sample.model_version is not None and sample.scores is not None:
                self._serving_version(sample.event_type, sample.model_version)
            if sample.scores is not None:
                observe_many(q.confidence.labels(sample.event_type), np.maximum(sample.scores, 1.0 - sample.scores))
            if self.settings.enabled and sample.model_version is not None:
                window = self._window(sample.event_type, sample.model_version)
                if window is not None:
                    window.observe(sample.features, sample.scores, now)

    def _serving_version(self, event_type: str, version: str) -> None:
        """Keep ``processor_model_info`` on the version that actually scores (it changes on a reload)."""
        previous = self._serving.get(event_type)
        if previous == version:
            return
        info = self.metrics.model_info
        if previous is not None:
            with contextlib.suppress(KeyError):  # never exported (set by nobody before us)
                info.remove(event_type, previous)
        info.labels(event_type, version).set(1)
        self._serving[event_type] = version
        if previous is not None:
            log.info(
                "model %s now %s (was %s)",
                event_type,
                version,
                previous,
                extra={"event_type": event_type, "model_version": version, "previous_version": previous},
            )

    def tick(self) -> None:
        """Re-evaluate when the interval has passed (cheap otherwise: call it every turn)."""
        now = self._clock()
        if now < self._next_evaluation:
            return
        self._next_evaluation = now + self.settings.evaluate_interval_s
        self.evaluate(now)

    # -- evaluation ------------------------------------------------------------------------------

    def evaluate(self, now: float | None = None) -> None:
        now = self._clock() if now is None else now
        m = self.metrics
        if self._dependencies is not None:
            for name, up in self._dependencies().items():
                m.dependency_up.labels(name).set(1 if up else 0)
        if self._lag is not None:
            self._export_lag(self._lag())
        if not self.settings.enabled:
            return
        q = m.quality
        for event_type in self.event_types:
            window = self.windows.get(event_type)
            collapsed = constant = False
            if window is not None:
                stats = window.stats(now, self.settings.min_window_events)
                self._export_window(event_type, window, stats)
                collapsed = score_collapsed(stats, self.settings)
                constant = feature_constant(stats)
            self._verdict(event_type, "score_collapsed", collapsed)
            self._verdict(event_type, "feature_constant", constant)
        stopped = self.traffic.volume_stopped(now)
        jumped = self.traffic.quarantine_jump(now)
        recent, baseline = self.traffic.quarantine_ratios(now)
        for j, event_type in enumerate(self.event_types):
            self._verdict(event_type, "volume_stopped", bool(stopped[j]))
            self._verdict(event_type, "quarantine_jump", bool(jumped[j]))
            q.quarantine_ratio.labels(event_type, "recent").set(float(recent[j]))
            q.quarantine_ratio.labels(event_type, "baseline").set(float(baseline[j]))
        q.evaluations.inc()

    def firing(self) -> list[tuple[str, str]]:
        """(event type, detector) of every detector that fired at the last evaluation."""
        return sorted(key for key, fired in self.verdicts.items() if fired)

    def _verdict(self, event_type: str, detector: str, fired: bool) -> None:
        self.verdicts[(event_type, detector)] = fired
        self.metrics.quality.silent_failure.labels(event_type, detector).set(1 if fired else 0)

    def _window(self, event_type: str, version: str) -> DriftWindow | None:
        window = self.windows.get(event_type)
        if window is not None and window.reference.version == version:
            return window
        if (event_type, version) in self._refused:
            return None
        try:
            reference = self._references(event_type, version)
        except Exception as exc:  # an unreadable artifact must not stop scoring
            log.warning(
                "drift reference of %s %s unreadable: %s",
                event_type,
                version,
                exc,
                extra={"event_type": event_type, "model_version": version},
            )
            reference = None
        if reference is None:
            self._refused.add((event_type, version))
            return None
        window = DriftWindow(reference, self.settings.drift_window_s, self.settings.window_slots)
        self.windows[event_type] = window
        log.info(
            "drift window of %s now against model %s",
            event_type,
            version,
            extra={"event_type": event_type, "model_version": version},
        )
        return window

    def _export_window(self, event_type: str, window: DriftWindow, stats: WindowStats) -> None:
        q = self.metrics.quality
        ref = window.reference
        for j, name in enumerate(ref.feature_names):
            q.feature_psi.labels(event_type, name).set(float(stats.feature_psi[j]))
            q.feature_js_distance.labels(event_type, name).set(float(stats.feature_js[j]))
            q.feature_null_ratio.labels(event_type, name).set(float(stats.null_ratio[j]))
            q.feature_out_of_range_ratio.labels(event_type, name).set(float(stats.out_of_range_ratio[j]))
            q.feature_reference_null_ratio.labels(event_type, name).set(ref.features[j].null_share)
            q.feature_constant.labels(event_type, name).set(1 if stats.constant[j] else 0)
        q.score_psi.labels(event_type).set(stats.score_psi)
        q.score_js_distance.labels(event_type).set(stats.score_js)
        q.score_stddev.labels(event_type).set(stats.score_std)
        q.window_events.labels(event_type).set(stats.events)

    def _export_lag(self, lag: Mapping[int, int]) -> None:
        gauge = self.metrics.consumer_lag
        for partition in self._lag_partitions - set(lag):
            gauge.remove(str(partition))  # revoked: another process reports it now
        for partition, behind in lag.items():
            gauge.labels(str(partition)).set(max(0, behind))
        self._lag_partitions = set(lag)
