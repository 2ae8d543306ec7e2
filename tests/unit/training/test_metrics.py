"""Metrics against values computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from processor.training.metrics import average_precision, binary_metrics, brier, log_loss, positive_rate, roc_auc


def test_roc_auc_by_hand() -> None:
    # Positives 0.8, 0.4; negatives 0.6, 0.2. Pairs (pos > neg): (0.8,0.6) (0.8,0.2) (0.4,0.2) = 3 of 4.
    assert roc_auc([1, 0, 1, 0], [0.8, 0.6, 0.4, 0.2]) == pytest.approx(0.75)
    assert roc_auc([0, 0, 1, 1], [0.1, 0.2, 0.3, 0.4]) == 1.0
    assert roc_auc([1, 1, 0, 0], [0.1, 0.2, 0.3, 0.4]) == 0.0


def test_roc_auc_ties_count_half() -> None:
    # Positive 0.5 ties negative 0.5 (1/2) and beats 0.1 (1): (1 + 0.5) / 2.
    assert roc_auc([1, 0, 0], [0.5, 0.5, 0.1]) == pytest.approx(0.75)
    assert roc_auc([1, 0, 1, 0], [0.3, 0.3, 0.3, 0.3]) == pytest.approx(0.5)


def test_roc_auc_one_class_is_nan() -> None:
    assert math.isnan(roc_auc([1, 1], [0.2, 0.3]))


def test_average_precision_by_hand() -> None:
    # Ranked: 0.9(+) 0.8(-) 0.7(+) 0.1(-). Recall steps at ranks 1 and 3: 0.5*1 + 0.5*(2/3).
    assert average_precision([1, 0, 1, 0], [0.9, 0.8, 0.7, 0.1]) == pytest.approx(0.5 + 1 / 3)
    # A constant score is one threshold: precision = positive rate at recall 1.
    assert average_precision([1, 0, 0, 0], [0.5, 0.5, 0.5, 0.5]) == pytest.approx(0.25)
    # Ties share a threshold: 0.9(+) then {0.5(+), 0.5(-)}: 0.5*1 + 0.5*(2/3).
    assert average_precision([1, 1, 0], [0.9, 0.5, 0.5]) == pytest.approx(0.5 + 1 / 3)


def test_log_loss_brier_positive_rate() -> None:
    y, p = [1, 0], [0.8, 0.4]
    assert log_loss(y, p) == pytest.approx(-(math.log(0.8) + math.log(0.6)) / 2)
    assert brier(y, p) == pytest.approx((0.2**2 + 0.4**2) / 2)
    assert positive_rate([1, 0, 0, 0]) == 0.25
    assert math.isfinite(log_loss([1, 0], [0.0, 1.0]))  # clipped, not infinite


def test_binary_metrics_and_input_checks() -> None:
    m = binary_metrics(np.array([1, 0, 1, 0]), np.array([0.8, 0.6, 0.4, 0.2]))
    assert set(m) == {"roc_auc", "pr_auc", "log_loss", "brier", "positive_rate"}
    assert m["roc_auc"] == pytest.approx(0.75)
    with pytest.raises(ValueError):
        roc_auc([1, 0], [0.5])
    with pytest.raises(ValueError):
        roc_auc([1, 2], [0.5, 0.5])
    with pytest.raises(ValueError):
        brier([1, 0], [float("nan"), 0.5])
