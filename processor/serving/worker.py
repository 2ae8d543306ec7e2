"""The model worker: one LightGBM call per batch and event type, with the version the registry names.

Artifacts load from LightGBM's text format (never pickle), through LightGBM's C library
(``processor.serving.native``): the ``lightgbm`` package would drag scipy into every processor. An artifact
whose metadata says ``model_kind: logistic_regression`` holds a ``LinearModel`` instead, scored with numpy.
Every ``reload_interval_s`` the worker
reads the rollout state (``processor.serving.registry``: the promoted version per type and an
optional shadow; without a promoted version, the newest artifact in the store serves) and swaps
models in without a restart. The swap happens in ``maybe_reload``, which the pipeline calls once
at the start of each batch, so a batch is always scored by exactly one version and every output
names it.

Loading verifies the artifact's checksums, its feature list against the serving feature module and
the model's feature count. A version that fails is refused (logged, counted in
``processor_model_refused_total{reason}``) and not retried until the registry names another one;
the current model keeps serving. A model that throws or blows the latency budget yields no scores:
the decide stage falls back to rules, and the event is never dropped.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import redis

from processor.errors import ProcessorError
from processor.features.base import FeatureModule
from processor.messages import Event
from processor.serving.artifact import ArtifactError, ArtifactRef, find_artifact, latest_artifact
from processor.serving.loading import LoadedModel, load_model
from processor.serving.registry import ModelRegistry, RolloutState
from processor.serving.rollout_metrics import RolloutMetrics
from processor.serving.shadow import ShadowComparer, ShadowResult

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ScoreResult:
    scores: np.ndarray | None  # None: no model could score; decide falls back
    model_version: str | None
    failure: str | None = None  # no_model | model_error | latency_budget
    ranges: dict[str, tuple[float, float]] | None = None  # the training range of each feature
    shadow: ShadowResult | None = None  # the shadow model's comparison, when one ran


class _CallClock:
    """When a model call began and ended on the model thread (monotonic seconds)."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self._began = 0.0
        self._ended: float | None = None

    def begin(self) -> None:
        self._began = time.monotonic()
        self.started.set()

    def end(self) -> None:
        self._ended = time.monotonic()

    def elapsed(self) -> float:
        """Seconds the call has run (so far, or in all once it ended)."""
        return (self._ended if self._ended is not None else time.monotonic()) - self._began


@dataclass(slots=True)
class PendingScore:
    """A submitted model call (``ModelWorker.submit``); ``done`` when it needed no model thread."""

    event_type: str
    features: np.ndarray
    events: Sequence[Event] | None
    done: ScoreResult | None
    model: LoadedModel | None = None
    future: Future[Any] | None = None
    clock: _CallClock | None = None
    shadow: tuple[str, Future[Any]] | None = None


class ModelWorker:
    def __init__(
        self,
        models_dir: Path,
        modules: dict[str, FeatureModule],
        *,
        reload_interval_s: float,
        latency_budget_ms: int,
        registry: ModelRegistry | None = None,
        comparer: ShadowComparer | None = None,
        metrics: RolloutMetrics | None = None,
    ) -> None:
        self._dir = models_dir
        self._modules = modules
        self._reload_interval_s = reload_interval_s
        self._budget_s = latency_budget_ms / 1000
        self._registry = registry
        self._comparer = comparer
        self.metrics = metrics or RolloutMetrics.create()
        self._model_info: Any = None  # the processor's processor_model_info gauge, once bound
        self._models: dict[str, LoadedModel] = {}
        self._shadows: dict[str, LoadedModel] = {}
        self._shadow_totals: dict[str, list[int]] = {}  # event type -> [scored, agreements] of this shadow
        self._next_check = 0.0
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="model")
        # the shadow has its own thread: a slow candidate must never eat the active model's budget
        self._shadow_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="shadow")
        self._busy: Future[Any] | None = None
        self._shadow_busy: Future[Any] | None = None
        self._registry_error: str | None = None
        self.load_errors: dict[str, str] = {}
        self.maybe_reload(force=True)

    def use_metrics(self, metrics: RolloutMetrics, model_info: Any = None) -> None:
        """Export into the processor's registry (and keep ``processor_model_info`` current)."""
        self.metrics = metrics
        self._model_info = model_info
        for event_type, model in self._shadows.items():
            metrics.shadow_info.labels(event_type, model.ref.version).set(1)

    @property
    def versions(self) -> dict[str, str]:
        return {t: m.ref.version for t, m in self._models.items()}

    def active_artifact(self, event_type: str) -> ArtifactRef | None:
        """The artifact serving this type now (its metadata holds the drift reference)."""
        model = self._models.get(event_type)
        return model.ref if model is not None else None

    @property
    def shadow_versions(self) -> dict[str, str]:
        return {t: m.ref.version for t, m in self._shadows.items()}

    def maybe_reload(self, force: bool = False) -> list[str]:
        """Follow the registry (at batch boundaries only); returns the event types whose active model changed."""
        now = time.monotonic()
        if not force and now < self._next_check:
            return []
        self._next_check = now + self._reload_interval_s
        states = self._read_states()
        if states is None:
            return []  # Redis unreadable: keep serving what is loaded
        changed = []
        for event_type, module in self._modules.items():
            state = states.get(event_type)
            wanted = self._wanted_active(event_type, state)
            if wanted is not None and self._swap(event_type, module, wanted, "active"):
                changed.append(event_type)
            self._follow_shadow(event_type, module, state.shadow if state is not None else None)
        return changed

    def _read_states(self) -> dict[str, RolloutState] | None:
        if self._registry is None:
            return {}
        try:
            states = self._registry.states(list(self._modules))
        except redis.RedisError as exc:
            if self._registry_error is None:
                log.warning("model registry unreadable, keeping the loaded models: %s", exc)
            self._registry_error = str(exc)
            return None
        if self._registry_error is not None:
            log.info("model registry readable again")
            self._registry_error = None
        return states

    def _wanted_active(self, event_type: str, state: RolloutState | None) -> ArtifactRef | None:
        if state is not None and state.active is not None:
            current = self._models.get(event_type)
            if current is not None and current.ref.version == state.active:
                return None
            try:
                return find_artifact(self._dir, event_type, state.active)
            except ArtifactError as exc:
                self._refuse(event_type, state.active, exc)
                return None
        return latest_artifact(self._dir, event_type)  # nothing promoted: the newest serves

    def _follow_shadow(self, event_type: str, module: FeatureModule, version: str | None) -> None:
        current = self._shadows.get(event_type)
        if version is None:
            if current is not None:
                self._drop_shadow(event_type)
                log.info("shadow model %s %s stopped", event_type, current.ref.version)
            return
        if current is not None and current.ref.version == version:
            return
        try:
            ref = find_artifact(self._dir, event_type, version)
        except ArtifactError as exc:
            self._refuse(event_type, version, exc)
            return
        self._swap(event_type, module, ref, "shadow")

    def _swap(self, event_type: str, module: FeatureModule, ref: ArtifactRef, role: str) -> bool:
        table = self._models if role == "active" else self._shadows
        current = table.get(event_type)
        if current is not None and current.ref.version == ref.version:
            return False
        if self.load_errors.get(event_type, "").startswith(f"{ref.version}:"):
            return False  # already refused this version; don't retry every interval
        try:
            loaded = load_model(ref, module)
        except Exception as exc:  # a bad artifact must not take the processor down
            self._refuse(event_type, ref.version, exc)
            return False
        if role == "active":
            self._models[event_type] = loaded
            if self._model_info is not None:
                if current is not None:
                    self._model_info.remove(event_type, current.ref.version)
                self._model_info.labels(event_type, ref.version).set(1)
        else:
            self._drop_shadow(event_type)
            self._shadows[event_type] = loaded
            self._shadow_totals[event_type] = [0, 0]
            self.metrics.shadow_info.labels(event_type, ref.version).set(1)
        self.load_errors.pop(event_type, None)
        self.metrics.loads.labels(event_type, role).inc()
        previous = current.ref.version if current is not None else None
        log.info("model %s %s now %s (was %s)", event_type, role, ref.version, previous)
        return True

    def _drop_shadow(self, event_type: str) -> None:
        old = self._shadows.pop(event_type, None)
        if old is not None:
            self.metrics.shadow_info.remove(event_type, old.ref.version)

    def _refuse(self, event_type: str, version: str, exc: Exception) -> None:
        key = f"{version}:"
        if self.load_errors.get(event_type, "").startswith(key):
            return
        reason = exc.code if isinstance(exc, ProcessorError) else "load_error"
        self.load_errors[event_type] = f"{key} {exc}"
        self.metrics.refused.labels(event_type, reason).inc()
        serving = self._models.get(event_type)
        log.error(
            "model %s %s refused (%s), still serving %s: %s",
            event_type,
            version,
            reason,
            serving.ref.version if serving is not None else "no model (fallback rules)",
            exc,
        )

    def score(self, event_type: str, features: np.ndarray, events: Sequence[Event] | None = None) -> ScoreResult:
        return self.result(self.submit(event_type, features, events))

    def submit(self, event_type: str, features: np.ndarray, events: Sequence[Event] | None = None) -> PendingScore:
        """Start scoring on the model thread and return at once; ``result`` waits for the scores.

        The pipeline submits every event type of a batch before it waits for the first, so the
        model (which releases the GIL) scores one type while the loop computes the next one's
        features and decides the previous one's events. Calls run one at a time, in order.
        """
        model = self._models.get(event_type)
        if model is None:
            return PendingScore(event_type, features, events, ScoreResult(None, None, "no_model"))
        shadow_future = self._start_shadow(event_type, features) if events is not None else None
        if self._busy is not None and not self._busy.done():
            # a call that overran its budget still holds the worker thread
            return PendingScore(event_type, features, events, ScoreResult(None, model.ref.version, "latency_budget"))
        clock = _CallClock()

        def predict() -> Any:
            clock.begin()
            try:
                return model.booster.predict(features, num_threads=1)
            finally:
                clock.end()

        return PendingScore(
            event_type, features, events, None, model, self._executor.submit(predict), clock, shadow_future
        )

    def result(self, pending: PendingScore) -> ScoreResult:
        """The scores of a ``submit``; the latency budget runs from when the model started on them."""
        if pending.done is not None:
            return pending.done
        assert pending.model is not None and pending.future is not None and pending.clock is not None
        model, future, clock = pending.model, pending.future, pending.clock
        # queued behind the batch's other types (each bounded by the budget): a call that has not
        # started within one budget sits behind a stuck one
        if not clock.started.wait(self._budget_s):
            self._busy = future
            return ScoreResult(None, model.ref.version, "latency_budget")
        try:
            scores = future.result(timeout=max(0.0, self._budget_s - clock.elapsed()))
        except FutureTimeout:
            self._busy = future  # it still holds the thread: later calls fall back until it is done
            return ScoreResult(None, model.ref.version, "latency_budget")
        except Exception as exc:
            log.warning("model %s %s failed: %s", pending.event_type, model.ref.version, exc)
            return ScoreResult(None, model.ref.version, "model_error")
        if clock.elapsed() > self._budget_s:  # done, but later than the budget allows
            return ScoreResult(None, model.ref.version, "latency_budget")
        scores = np.asarray(scores, dtype=np.float64)
        if scores.shape != (pending.features.shape[0],) or not np.all(np.isfinite(scores)):
            return ScoreResult(None, model.ref.version, "model_error")
        shadow = None
        if pending.shadow is not None and pending.events is not None:
            shadow = self._finish_shadow(pending.event_type, pending.shadow, pending.events, model.ref.version, scores)
        return ScoreResult(scores, model.ref.version, ranges=model.ranges, shadow=shadow)

    def _start_shadow(self, event_type: str, features: np.ndarray) -> tuple[str, Future[Any]] | None:
        shadow = self._shadows.get(event_type)
        if shadow is None or self._comparer is None:
            return None
        if self._shadow_busy is not None and not self._shadow_busy.done():
            return None  # the candidate is still busy with an earlier batch: skip this one
        future = self._shadow_executor.submit(shadow.booster.predict, features, num_threads=1)
        self._shadow_busy = future
        return shadow.ref.version, future

    def _finish_shadow(
        self,
        event_type: str,
        started: tuple[str, Future[Any]],
        events: Sequence[Event],
        active_version: str,
        active_scores: np.ndarray,
    ) -> ShadowResult | None:
        version, future = started
        assert self._comparer is not None
        try:
            raw = future.result(timeout=self._budget_s)
            scores = np.asarray(raw, dtype=np.float64)
        except Exception as exc:  # the candidate failing is information, never an outage
            log.warning("shadow model %s %s failed: %s", event_type, version, exc)
            return None
        if scores.shape != active_scores.shape or not np.all(np.isfinite(scores)):
            return None
        return self._comparer.compare(event_type, events, active_version, active_scores, version, scores)

    def account(self, results: Sequence[ShadowResult]) -> None:
        """Export shadow comparisons of a committed batch (a redone batch is not counted twice)."""
        for r in results:
            m = self.metrics
            m.shadow_scored.labels(r.event_type).inc(r.n)
            m.shadow_agreements.labels(r.event_type).inc(r.agreements)
            h = m.shadow_score_diff.labels(r.event_type)
            for d in r.abs_diffs:
                h.observe(float(d))
            current = self._shadows.get(r.event_type)
            if current is not None and current.ref.version == r.shadow_version:
                totals = self._shadow_totals.setdefault(r.event_type, [0, 0])
                totals[0] += r.n
                totals[1] += r.agreements
                if totals[0]:
                    m.shadow_agreement_rate.labels(r.event_type).set(totals[1] / totals[0])

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
        self._shadow_executor.shutdown(wait=False, cancel_futures=True)
