"""Evaluation metrics for binary scores, in numpy only.

Why not scikit-learn: the processor image should not carry it for five formulas. The definitions
follow scikit-learn's so numbers are comparable with notebooks: ``roc_auc`` is the Mann-Whitney
statistic with tied scores sharing their average rank (a constant score gives 0.5),
``average_precision`` is the step-wise sum ``sum_n (R_n - R_{n-1}) P_n`` over distinct thresholds
(no interpolation; a constant score gives the positive rate), ``log_loss`` clips probabilities to
``[eps, 1 - eps]``.

Metrics that are undefined for the input (AUC with one class present) are ``nan`` rather than an
exception: a caller reporting several metrics should not lose all of them to one.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

ArrayLike = npt.NDArray[np.floating] | npt.NDArray[np.integer] | npt.NDArray[np.bool_] | Sequence[float]

_EPS = 1e-15


def _check(y_true: ArrayLike, y_score: ArrayLike) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    y = np.asarray(y_true, dtype=np.float64).ravel()
    s = np.asarray(y_score, dtype=np.float64).ravel()
    if y.shape != s.shape:
        raise ValueError(f"y_true has {y.size} values, y_score {s.size}")
    if y.size == 0:
        raise ValueError("no values")
    if not np.all((y == 0.0) | (y == 1.0)):
        raise ValueError("y_true must hold only 0 and 1")
    if not np.all(np.isfinite(s)):
        raise ValueError("y_score must be finite")
    return y, s


def roc_auc(y_true: ArrayLike, y_score: ArrayLike) -> float:
    """Area under the ROC curve: P(score of a random positive > score of a random negative), ties 1/2."""
    y, s = _check(y_true, y_score)
    n_pos = float(y.sum())
    n_neg = float(y.size) - n_pos
    if n_pos == 0 or n_neg == 0:
        return math.nan
    order = np.argsort(s, kind="mergesort")
    sorted_s = s[order]
    # Each run of equal scores gets the average of the 1-based ranks it spans.
    boundaries = np.flatnonzero(np.diff(sorted_s)) + 1
    starts = np.concatenate(([0], boundaries))
    ends = np.concatenate((boundaries, [s.size]))  # exclusive
    average_rank = (starts + ends + 1) / 2.0
    ranks = np.empty(s.size, dtype=np.float64)
    ranks[order] = np.repeat(average_rank, ends - starts)
    rank_sum = float(ranks[y == 1.0].sum())
    return (rank_sum - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg)


def average_precision(y_true: ArrayLike, y_score: ArrayLike) -> float:
    """Area under the precision-recall curve as average precision (scikit-learn's definition)."""
    y, s = _check(y_true, y_score)
    n_pos = float(y.sum())
    if n_pos == 0:
        return math.nan
    order = np.argsort(-s, kind="mergesort")
    sorted_s = s[order]
    sorted_y = y[order]
    # One point of the curve per distinct threshold: the last index of each run of equal scores.
    last_of_run = np.concatenate((np.flatnonzero(np.diff(sorted_s)), [s.size - 1]))
    tp = np.cumsum(sorted_y)[last_of_run]
    predicted = last_of_run + 1.0
    precision = tp / predicted
    recall = tp / n_pos
    recall_steps = np.diff(np.concatenate(([0.0], recall)))
    return float(np.sum(recall_steps * precision))


def log_loss(y_true: ArrayLike, y_prob: ArrayLike, eps: float = _EPS) -> float:
    """Mean negative log-likelihood of the labels under the predicted probabilities."""
    y, p = _check(y_true, y_prob)
    p = np.clip(p, eps, 1.0 - eps)
    return float(-np.mean(y * np.log(p) + (1.0 - y) * np.log1p(-p)))


def brier(y_true: ArrayLike, y_prob: ArrayLike) -> float:
    """Mean squared error of the probabilities: calibration and sharpness in one number."""
    y, p = _check(y_true, y_prob)
    return float(np.mean((p - y) ** 2))


def positive_rate(y_true: ArrayLike) -> float:
    """Share of positives: the base rate any score must beat."""
    y = np.asarray(y_true, dtype=np.float64).ravel()
    if y.size == 0:
        raise ValueError("no values")
    return float(y.mean())


def binary_metrics(y_true: ArrayLike, y_prob: ArrayLike) -> dict[str, float]:
    """Every metric above, by name, as training stores them in the artifact metadata."""
    return {
        "roc_auc": roc_auc(y_true, y_prob),
        "pr_auc": average_precision(y_true, y_prob),
        "log_loss": log_loss(y_true, y_prob),
        "brier": brier(y_true, y_prob),
        "positive_rate": positive_rate(y_true),
    }


def calibration_bins(y_true: ArrayLike, y_prob: ArrayLike, n_bins: int = 10) -> list[dict[str, float | int]]:
    """Equal-width probability bins: rows, mean predicted probability and observed positive rate.

    A calibrated model's points lie on the diagonal; empty bins are left out.
    """
    y, p = _check(y_true, y_prob)
    index = np.minimum((p * n_bins).astype(np.int64), n_bins - 1)
    out: list[dict[str, float | int]] = []
    for b in range(n_bins):
        mask = index == b
        count = int(mask.sum())
        if count == 0:
            continue
        out.append(
            {
                "low": b / n_bins,
                "high": (b + 1) / n_bins,
                "count": count,
                "mean_predicted": float(p[mask].mean()),
                "observed_rate": float(y[mask].mean()),
            }
        )
    return out


def expected_calibration_error(bins: Sequence[dict[str, float | int]]) -> float:
    """Row-weighted mean gap between predicted and observed rates over the calibration bins."""
    total = sum(int(b["count"]) for b in bins)
    if total == 0:
        return math.nan
    return float(
        sum(int(b["count"]) * abs(float(b["mean_predicted"]) - float(b["observed_rate"])) for b in bins) / total
    )


def evaluation(y_true: ArrayLike, y_prob: ArrayLike, n_bins: int = 10) -> dict[str, object]:
    """``binary_metrics`` plus the expected calibration error and the calibration bins."""
    bins = calibration_bins(y_true, y_prob, n_bins)
    return {**binary_metrics(y_true, y_prob), "ece": expected_calibration_error(bins), "calibration": bins}
