"""Drift and data quality of one event type: a sliding window of live features and scores against
the active model's reference histograms.

The reference (``metadata.json`` → ``reference``, written by ``processor.training.training``) holds
per column the training deciles as inner cut points (``edges``), the share of rows in each bin
(``shares``), the share of missing values (``null_share``) and the training range. Live values are
binned the same way (``numpy.searchsorted(edges, x, side='left')``, i.e. the number of edges
below ``x``), missing values in a bin of their own, so a null burst moves PSI as any other shift.

Everything is vectorised per batch: comparisons of the batch matrix against the padded edge
matrix give every column's bin at once, one ``bincount`` counts them. The window is a ring of
time slots (``window_s / slots`` seconds each); a statistic sums the slots still inside the
window, so old traffic falls out without keeping rows.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.float64]

#: Shares below this are clamped before PSI and Jensen-Shannon: an empty bin would be infinite PSI.
_EPSILON = 1e-4


@dataclass(frozen=True, slots=True)
class ColumnReference:
    """One column's training histogram."""

    edges: Array  # inner cut points, ascending
    shares: Array  # len(edges) + 1 bin shares, fractions of all rows
    null_share: float
    low: float  # training minimum (-inf when unknown)
    high: float  # training maximum (+inf when unknown)

    @classmethod
    def from_metadata(cls, data: Mapping[str, Any]) -> ColumnReference:
        edges = np.asarray([float(e) for e in data.get("edges") or []], dtype=np.float64)
        shares = np.asarray([float(s) for s in data.get("shares") or []], dtype=np.float64)
        if shares.size and shares.size != edges.size + 1:
            raise ValueError(f"reference has {edges.size} edges but {shares.size} shares")
        if not shares.size:  # an all-null training column: one empty bin
            shares = np.zeros(edges.size + 1)
        low, high = data.get("min"), data.get("max")
        return cls(
            edges=edges,
            shares=shares,
            null_share=float(data.get("null_share") or 0.0),
            low=-math.inf if low is None else float(low),
            high=math.inf if high is None else float(high),
        )

    @property
    def varies(self) -> bool:
        """Training saw more than one value."""
        return self.low < self.high


@dataclass(frozen=True, slots=True)
class ModelReference:
    """The reference histograms of one model version, laid out for vectorised binning."""

    version: str
    feature_names: tuple[str, ...]
    features: tuple[ColumnReference, ...]
    score: ColumnReference | None
    #: (columns, max edges) of edges padded with +inf: a padded edge is never below a value
    edge_matrix: Array
    #: (columns, bins) expected shares: regular bins, zero padding, the null share in the last bin
    expected: Array
    low: Array
    high: Array

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, Any]) -> ModelReference | None:
        """None when the artifact predates reference histograms (nothing to compare with)."""
        reference = metadata.get("reference")
        if not isinstance(reference, Mapping) or not isinstance(reference.get("features"), Mapping):
            return None
        names = tuple(str(n) for n in metadata.get("feature_names") or reference["features"])
        raw = reference["features"]
        if any(name not in raw for name in names):
            return None
        features = tuple(ColumnReference.from_metadata(raw[name]) for name in names)
        score_raw = reference.get("score")
        score = ColumnReference.from_metadata(score_raw) if isinstance(score_raw, Mapping) else None
        columns = [*features, *([score] if score is not None else [])]
        width = max((c.edges.size for c in columns), default=0)
        bins = width + 2  # up to width + 1 regular bins, then the null bin
        edge_matrix = np.full((len(columns), max(width, 1)), np.inf)
        expected = np.zeros((len(columns), bins))
        for j, column in enumerate(columns):
            edge_matrix[j, : column.edges.size] = column.edges
            expected[j, : column.shares.size] = column.shares
            expected[j, -1] = column.null_share
        return cls(
            version=str(metadata.get("version", "")),
            feature_names=names,
            features=features,
            score=score,
            edge_matrix=edge_matrix,
            expected=expected,
            low=np.asarray([c.low for c in features]),
            high=np.asarray([c.high for c in features]),
        )

    @property
    def bins(self) -> int:
        return int(self.expected.shape[1])


def bin_counts(values: Array, edge_matrix: Array, bins: int) -> npt.NDArray[np.int64]:
    """Per column, how many of ``values`` (rows, columns) fall in each reference bin; NaN in the last.

    A value's bin is the number of its column's edges below it; one vectorised comparison per edge
    position (at most ten) beats a searchsorted per column and a 3-d comparison alike.
    """
    rows, columns = values.shape
    if rows == 0:
        return np.zeros((columns, bins), dtype=np.int64)
    index = np.zeros((rows, columns), dtype=np.int64)
    with np.errstate(invalid="ignore"):
        for e in range(edge_matrix.shape[1]):
            index += values > edge_matrix[:, e]
    index[np.isnan(values)] = bins - 1
    index += np.arange(columns) * bins
    return np.bincount(index.ravel(), minlength=columns * bins).reshape(columns, bins)


def psi(actual: Array, expected: Array) -> Array:
    """Population stability index per row of two (columns, bins) share matrices."""
    a = np.maximum(actual, _EPSILON)
    e = np.maximum(expected, _EPSILON)
    result: Array = ((a - e) * np.log(a / e)).sum(axis=1)
    return result


def js_distance(actual: Array, expected: Array) -> Array:
    """Jensen-Shannon distance (base 2: 0 identical, 1 disjoint) per row of two share matrices."""
    p = actual / np.maximum(actual.sum(axis=1, keepdims=True), _EPSILON)
    q = expected / np.maximum(expected.sum(axis=1, keepdims=True), _EPSILON)
    m = (p + q) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        kl_p = np.where(p > 0, p * np.log2(p / m), 0.0).sum(axis=1)
        kl_q = np.where(q > 0, q * np.log2(q / m), 0.0).sum(axis=1)
    result: Array = np.sqrt(np.clip((kl_p + kl_q) / 2, 0.0, 1.0))
    return result


@dataclass(frozen=True, slots=True)
class WindowStats:
    """What the window holds now; NaN everywhere when it holds fewer than the minimum events."""

    events: int  # feature rows in the window
    scored: int  # rows that had a score
    feature_psi: Array
    feature_js: Array
    null_ratio: Array
    out_of_range_ratio: Array
    #: per feature: one value (or none) in the whole window although training saw it vary, and
    #: a reference under which that would be a one-in-a-million coincidence
    constant: npt.NDArray[np.bool_]
    score_psi: float
    score_js: float
    score_std: float
    enough: bool


class DriftWindow:
    """Sliding-window bin counts of one event type under one model reference."""

    def __init__(self, reference: ModelReference, window_s: float, slots: int) -> None:
        self.reference = reference
        self._slot_s = window_s / slots
        self._slots = slots
        n_features = len(reference.features)
        self._n_features = n_features
        columns = n_features + (1 if reference.score is not None else 0)
        self._stamp = np.full(slots, -(10**12), dtype=np.int64)
        self._counts = np.zeros((slots, columns, reference.bins), dtype=np.int64)
        self._out_of_range = np.zeros((slots, n_features), dtype=np.int64)
        self._rows = np.zeros(slots, dtype=np.int64)
        self._scored = np.zeros(slots, dtype=np.int64)
        self._score_sum = np.zeros(slots)
        self._score_sumsq = np.zeros(slots)
        self._min = np.full((slots, n_features), np.nan)
        self._max = np.full((slots, n_features), np.nan)

    def _slot(self, now: float) -> int:
        tick = int(now // self._slot_s)
        i = tick % self._slots
        if self._stamp[i] != tick:
            self._stamp[i] = tick
            self._counts[i] = 0
            self._out_of_range[i] = 0
            self._rows[i] = self._scored[i] = 0
            self._score_sum[i] = self._score_sumsq[i] = 0.0
            self._min[i] = np.nan
            self._max[i] = np.nan
        return i

    def observe(self, features: Array, scores: Array | None, now: float) -> None:
        """Add one batch: ``features`` (rows, features) in the model's order, ``scores`` (rows,) or None."""
        if features.shape[0] == 0:
            return
        ref = self.reference
        i = self._slot(now)
        k = self._n_features
        self._counts[i, :k] += bin_counts(features, ref.edge_matrix[:k], ref.bins)
        with np.errstate(invalid="ignore"):
            self._out_of_range[i] += ((features < ref.low) | (features > ref.high)).sum(axis=0)
        self._rows[i] += features.shape[0]
        self._min[i] = np.fmin(self._min[i], np.fmin.reduce(features, axis=0))
        self._max[i] = np.fmax(self._max[i], np.fmax.reduce(features, axis=0))
        if scores is not None and ref.score is not None and scores.size:
            column = scores.reshape(-1, 1)
            self._counts[i, k:] += bin_counts(column, ref.edge_matrix[k:], ref.bins)
            self._scored[i] += scores.size
            self._score_sum[i] += float(scores.sum())
            self._score_sumsq[i] += float(np.dot(scores, scores))

    def stats(self, now: float, min_events: int) -> WindowStats:
        tick = int(now // self._slot_s)
        live = self._stamp > tick - self._slots
        rows = int(self._rows[live].sum())
        scored = int(self._scored[live].sum())
        counts = self._counts[live].sum(axis=0).astype(np.float64)
        k = self._n_features
        ref = self.reference
        nan_k = np.full(k, np.nan)
        enough = rows >= min_events
        if enough:
            actual = counts[:k] / rows
            feature_psi = psi(actual, ref.expected[:k])
            feature_js = js_distance(actual, ref.expected[:k])
            null_ratio = actual[:, -1]
            out_of_range = self._out_of_range[live].sum(axis=0) / rows
            constant = self._constant(live, rows)
        else:
            feature_psi = feature_js = null_ratio = out_of_range = nan_k
            constant = np.zeros(k, dtype=bool)
        score_psi = score_js = score_std = math.nan
        if ref.score is not None and scored >= min_events:
            actual_score = counts[k:] / scored
            score_psi = float(psi(actual_score, ref.expected[k:])[0])
            score_js = float(js_distance(actual_score, ref.expected[k:])[0])
            mean = float(self._score_sum[live].sum()) / scored
            score_std = math.sqrt(max(0.0, float(self._score_sumsq[live].sum()) / scored - mean * mean))
        return WindowStats(
            events=rows,
            scored=scored,
            feature_psi=feature_psi,
            feature_js=feature_js,
            null_ratio=null_ratio,
            out_of_range_ratio=out_of_range,
            constant=constant,
            score_psi=score_psi,
            score_js=score_js,
            score_std=score_std,
            enough=enough,
        )

    def _constant(self, live: npt.NDArray[np.bool_], rows: int) -> npt.NDArray[np.bool_]:
        ref = self.reference
        k = self._n_features
        with np.errstate(invalid="ignore"):
            low = np.fmin.reduce(self._min[live], axis=0)
            high = np.fmax.reduce(self._max[live], axis=0)
        # one value, or nothing but nulls (NaN == NaN is False, so test that on its own)
        single = (low == high) | (np.isnan(low) & np.isnan(high))
        varies = np.asarray([c.varies for c in ref.features])
        # Chance that ``rows`` draws from the reference all land in one bin (nulls included): at
        # least the chance they are all one value. Only a rare coincidence counts as a failure,
        # so a rare binary flag that is simply all-zero in a small window stays quiet.
        with np.errstate(under="ignore"):
            chance = (ref.expected[:k] ** rows).sum(axis=1)
        result: npt.NDArray[np.bool_] = single & varies & (chance < 1e-6)
        return result
