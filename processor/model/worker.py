"""The model worker: one LightGBM call per batch and event type, with the newest artifact per type.

Artifacts load from LightGBM's text format (never pickle). The worker looks for a newer artifact
every ``reload_interval_s`` and swaps it in without a restart; an artifact whose feature list does
not match the serving feature module is refused (the previous model keeps serving). A model that
throws or blows the latency budget yields no scores: the decide stage falls back to rules, and
the event is never dropped.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np

from processor.model.artifact import ArtifactRef, latest_artifact
from processor.model.features.base import FeatureModule

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class LoadedModel:
    ref: ArtifactRef
    booster: lgb.Booster
    feature_names: tuple[str, ...]
    #: per feature, the (min, max) seen in training; absent for artifacts that predate it
    ranges: dict[str, tuple[float, float]]


@dataclass(frozen=True, slots=True)
class ScoreResult:
    scores: np.ndarray | None  # None: no model could score; decide falls back
    model_version: str | None
    failure: str | None = None  # no_model | model_error | latency_budget
    ranges: dict[str, tuple[float, float]] | None = None  # the training range of each feature


class ModelWorker:
    def __init__(
        self,
        models_dir: Path,
        modules: dict[str, FeatureModule],
        *,
        reload_interval_s: float,
        latency_budget_ms: int,
    ) -> None:
        self._dir = models_dir
        self._modules = modules
        self._reload_interval_s = reload_interval_s
        self._budget_s = latency_budget_ms / 1000
        self._models: dict[str, LoadedModel] = {}
        self._next_check = 0.0
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="model")
        self._busy: Future[Any] | None = None
        self.load_errors: dict[str, str] = {}
        self.maybe_reload(force=True)

    @property
    def versions(self) -> dict[str, str]:
        return {t: m.ref.version for t, m in self._models.items()}

    def active_artifact(self, event_type: str) -> ArtifactRef | None:
        """The artifact serving this type now (its metadata holds the drift reference)."""
        model = self._models.get(event_type)
        return model.ref if model is not None else None

    def maybe_reload(self, force: bool = False) -> list[str]:
        """Swap in newer artifacts; returns the event types whose model changed."""
        now = time.monotonic()
        if not force and now < self._next_check:
            return []
        self._next_check = now + self._reload_interval_s
        changed = []
        for event_type, module in self._modules.items():
            ref = latest_artifact(self._dir, event_type)
            current = self._models.get(event_type)
            if ref is None or (current is not None and current.ref.version == ref.version):
                continue
            if self.load_errors.get(event_type, "").startswith(ref.version):
                continue  # already refused this version; don't retry every interval
            try:
                loaded = self._load(ref, module)
            except Exception as exc:  # a bad artifact must not take the processor down
                self.load_errors[event_type] = f"{ref.version}: {exc}"
                log.error("model %s %s refused: %s", event_type, ref.version, exc)
                continue
            self._models[event_type] = loaded
            self.load_errors.pop(event_type, None)
            changed.append(event_type)
            log.info("model %s now %s", event_type, ref.version)
        return changed

    @staticmethod
    def _load(ref: ArtifactRef, module: FeatureModule) -> LoadedModel:
        metadata = ref.metadata()
        names = tuple(metadata["feature_names"])
        if names != tuple(module.FEATURE_NAMES):
            raise ValueError(
                f"artifact features {list(names)} differ from the serving feature module {list(module.FEATURE_NAMES)}"
            )
        booster = lgb.Booster(model_file=str(ref.model_path))
        if booster.num_feature() != len(names):
            raise ValueError(f"model expects {booster.num_feature()} features, metadata lists {len(names)}")
        reference = metadata.get("reference", {}).get("features", {})
        ranges = {
            name: (float(ref_["min"]), float(ref_["max"]))
            for name, ref_ in reference.items()
            if isinstance(ref_, dict) and ref_.get("min") is not None and ref_.get("max") is not None
        }
        return LoadedModel(ref=ref, booster=booster, feature_names=names, ranges=ranges)

    def score(self, event_type: str, features: np.ndarray) -> ScoreResult:
        model = self._models.get(event_type)
        if model is None:
            return ScoreResult(None, None, "no_model")
        if self._busy is not None and not self._busy.done():
            # a previous call overran its budget and still holds the worker thread
            return ScoreResult(None, model.ref.version, "latency_budget")
        future = self._executor.submit(model.booster.predict, features, num_threads=1)
        self._busy = future
        try:
            scores = future.result(timeout=self._budget_s)
        except FutureTimeout:
            return ScoreResult(None, model.ref.version, "latency_budget")
        except Exception as exc:
            log.warning("model %s %s failed: %s", event_type, model.ref.version, exc)
            return ScoreResult(None, model.ref.version, "model_error")
        scores = np.asarray(scores, dtype=np.float64)
        if scores.shape != (features.shape[0],) or not np.all(np.isfinite(scores)):
            return ScoreResult(None, model.ref.version, "model_error")
        return ScoreResult(scores, model.ref.version, ranges=model.ranges)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
