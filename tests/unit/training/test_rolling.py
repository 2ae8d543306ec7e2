"""The rolling-origin evaluation: consecutive folds, choices made inside training parts, one final slice."""

from __future__ import annotations

import numpy as np
import pytest

from processor.training import rolling


def _data(n: int = 800, seed: int = 5, signal: float = 1.5) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    y = (rng.random(n) < 1 / (1 + np.exp(-(signal * x[:, 0] - 2.0)))).astype(np.float64)
    times = np.arange(n, dtype=np.int64) * 1000
    return x, y, times


def test_folds_are_consecutive_and_end_where_the_final_slice_starts() -> None:
    _, _, times = _data(1000)
    folds, final_start = rolling.boundaries(times, rolling.Protocol())
    assert final_start == 850  # the newest 15% is the final slice
    assert folds == [(350, 450), (450, 550), (550, 650), (650, 750), (750, 850)]


def test_no_boundary_splits_rows_with_the_same_event_time() -> None:
    _, _, times = _data(1000)
    times[349:352] = times[349]  # three rows at one instant across the first fold's start
    folds, _ = rolling.boundaries(times, rolling.Protocol())
    assert folds[0][0] == 352


def test_hyper_parameters_are_chosen_on_the_training_part_only() -> None:
    """Changing the fold's own labels must not change what was chosen for it."""
    x, y, times = _data()
    protocol = rolling.Protocol()
    first = rolling.evaluate(x, y, times, protocol)
    start, stop = first.folds[2].start, first.folds[2].stop
    flipped = y.copy()
    flipped[start:stop] = 1.0 - flipped[start:stop]
    second = rolling.evaluate(x, flipped, times, protocol)
    assert second.folds[2].choice == first.folds[2].choice
    assert second.folds[2].metrics != first.folds[2].metrics


def test_the_evaluation_reports_every_model_and_declares_a_servable_winner() -> None:
    x, y, times = _data()
    result = rolling.evaluate(x, y, times, rolling.Protocol())
    assert len(result.folds) == 5
    assert result.winner in rolling.SERVABLE
    for model in rolling.MODELS:
        for metric in rolling.METRICS:
            s = result.summary[model][metric]
            assert s["min"] <= s["mean"] <= s["max"] and s["std"] >= 0
    assert result.summary["class_prior"]["roc_auc"]["mean"] == 0.5
    assert result.summary["lightgbm"]["roc_auc"]["mean"] > 0.7  # the signal is there to find
    assert result.final_choice is not None
    table = rolling.fold_table(result)
    assert "over 5 folds" in table and table.count("class_prior") == 6


def test_a_linear_signal_is_won_by_the_logistic_regression_unless_lightgbm_is_clearly_better() -> None:
    """With one linear feature the two are close; a tie goes to the simpler model by the rule."""
    x, y, times = _data(signal=0.8)
    result = rolling.evaluate(x, y, times, rolling.Protocol())
    lgb_loss = result.summary["lightgbm"]["log_loss"]["mean"]
    lr_loss = result.summary["logistic_regression"]["log_loss"]["mean"]
    expected = "lightgbm" if lgb_loss < lr_loss - rolling.TIE_LOG_LOSS else "logistic_regression"
    assert result.winner == expected


def test_too_few_rows_for_the_protocol_is_an_error() -> None:
    _, _, times = _data(4)
    with pytest.raises(ValueError, match="too few"):
        rolling.boundaries(times, rolling.Protocol())
    with pytest.raises(ValueError, match="first training part"):
        rolling.Protocol(folds=8)
