"""A fitted logistic regression as plain numbers, applied with numpy: the servable linear model.

Training fits it with scikit-learn (``processor.training.baselines.fit_logistic_regression``); serving
must not import scikit-learn (nor scipy, which it pulls in), so the artifact stores what the
fitted pipeline computes, and ``predict`` redoes it:

1. impute: a missing value (NaN) becomes its column's training median; for each column listed in
   ``indicator_columns`` (those that had missing values in training) a 0/1 "was missing" column is
   appended, in that order;
2. standardise: ``(x - mean) / scale`` per column (scale 1 where the training column was constant);
3. ``p = 1 / (1 + exp(-(z . coef + intercept)))``.

The artifact's ``model.txt`` holds this as JSON (``to_text`` / ``from_text``), and its metadata
says ``model_kind: logistic_regression``. Training checks that ``predict`` reproduces
scikit-learn's probabilities before an artifact is written.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from processor.errors import ProcessorError

KIND = "logistic_regression"
Matrix = npt.NDArray[np.float64]


class LinearModelError(ProcessorError):
    """A linear model text that cannot be applied (wrong shape, not finite, not this kind)."""


@dataclass(frozen=True, slots=True)
class LinearModel:
    feature_names: tuple[str, ...]
    medians: tuple[float, ...]  # per feature
    indicator_columns: tuple[int, ...]  # features that get a missing-indicator column
    means: tuple[float, ...]  # per imputed column (features, then indicators)
    scales: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float
    c: float  # the inverse regularisation strength it was fitted with (for the record)

    def __post_init__(self) -> None:
        width = len(self.feature_names)
        columns = width + len(self.indicator_columns)
        if len(self.medians) != width:
            raise LinearModelError("linear_model_invalid", f"{len(self.medians)} medians for {width} features")
        if any(not 0 <= i < width for i in self.indicator_columns):
            raise LinearModelError("linear_model_invalid", "an indicator column names no feature")
        for name, values in (("means", self.means), ("scales", self.scales), ("coef", self.coef)):
            if len(values) != columns:
                raise LinearModelError("linear_model_invalid", f"{len(values)} {name} for {columns} columns")
        numbers = (*self.medians, *self.means, *self.scales, *self.coef, self.intercept)
        if not all(np.isfinite(numbers)) or any(s == 0.0 for s in self.scales):
            raise LinearModelError("linear_model_invalid", "a coefficient or scaling value is not finite or zero")

    def num_feature(self) -> int:
        return len(self.feature_names)

    def predict(self, features: Matrix, num_threads: int = 1) -> npt.NDArray[np.float64]:
        """Probabilities; ``num_threads`` is accepted (and moot) so the worker calls it as it calls LightGBM."""
        del num_threads
        x = np.asarray(features, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != len(self.feature_names):
            raise LinearModelError(
                "feature_mismatch", f"expected (n, {len(self.feature_names)}) features, got {x.shape}"
            )
        missing = np.isnan(x)
        imputed = np.where(missing, np.asarray(self.medians), x)
        if self.indicator_columns:
            imputed = np.hstack([imputed, missing[:, list(self.indicator_columns)].astype(np.float64)])
        z = (imputed - np.asarray(self.means)) / np.asarray(self.scales)
        logit = z @ np.asarray(self.coef) + self.intercept
        return np.asarray(1.0 / (1.0 + np.exp(-logit)), dtype=np.float64)

    def to_text(self) -> str:
        return json.dumps({"kind": KIND, **asdict(self)}, indent=1, sort_keys=True)

    @classmethod
    def from_text(cls, text: str) -> LinearModel:
        try:
            data: dict[str, Any] = json.loads(text)
        except ValueError as exc:
            raise LinearModelError("linear_model_invalid", f"not JSON: {exc}") from exc
        if not isinstance(data, dict) or data.pop("kind", None) != KIND:
            raise LinearModelError("linear_model_invalid", f"not a {KIND} model text")
        try:
            return cls(
                feature_names=tuple(str(n) for n in data["feature_names"]),
                medians=tuple(float(v) for v in data["medians"]),
                indicator_columns=tuple(int(v) for v in data["indicator_columns"]),
                means=tuple(float(v) for v in data["means"]),
                scales=tuple(float(v) for v in data["scales"]),
                coef=tuple(float(v) for v in data["coef"]),
                intercept=float(data["intercept"]),
                c=float(data["c"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise LinearModelError("linear_model_invalid", f"bad linear model text: {exc!r}") from exc
