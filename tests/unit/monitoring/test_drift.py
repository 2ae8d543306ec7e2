from __future__ import annotations

import math

import numpy as np
import pytest

from processor.monitoring.drift import DriftWindow, ModelReference, bin_counts, js_distance, psi

from .conftest import MetadataFactory, normal_traffic


def _window(metadata: MetadataFactory, window_s: float = 600.0, slots: int = 10) -> DriftWindow:
    reference = ModelReference.from_metadata(metadata())
    assert reference is not None
    return DriftWindow(reference, window_s, slots)


def test_bins_match_the_training_binning_rule() -> None:
    rng = np.random.default_rng(1)
    values = rng.normal(size=(500, 2))
    values[::7, 1] = np.nan
    edges = [np.array([-1.0, 0.0, 0.5]), np.array([0.0])]
    matrix = np.full((2, 3), np.inf)
    matrix[0, :3], matrix[1, :1] = edges[0], edges[1]
    counts = bin_counts(values, matrix, bins=5)
    for j in range(2):
        present = values[:, j][~np.isnan(values[:, j])]
        expected = np.bincount(np.searchsorted(edges[j], present, side="left"), minlength=4)
        assert counts[j, :4].tolist() == expected.tolist()
        assert counts[j, 4] == np.isnan(values[:, j]).sum()


def test_psi_and_js_are_zero_for_identical_and_large_for_disjoint() -> None:
    same = np.array([[0.25, 0.25, 0.5, 0.0]])
    assert psi(same, same)[0] == pytest.approx(0.0)
    assert js_distance(same, same)[0] == pytest.approx(0.0, abs=1e-9)
    disjoint = np.array([[0.0, 0.0, 0.0, 1.0]])
    assert psi(disjoint, same)[0] > 5
    assert js_distance(disjoint, same)[0] == pytest.approx(1.0)


def test_normal_traffic_shows_no_drift(metadata: MetadataFactory) -> None:
    window = _window(metadata)
    features, scores = normal_traffic(np.random.default_rng(7), 2_000)
    window.observe(features, scores, now=100.0)
    stats = window.stats(100.0, min_events=300)
    assert stats.enough and stats.events == 2_000 and stats.scored == 2_000
    assert np.all(stats.feature_psi < 0.05), stats.feature_psi
    assert stats.score_psi < 0.05
    assert np.all(stats.feature_js < 0.1)
    assert stats.null_ratio[2] == pytest.approx(0.05, abs=0.02)
    assert np.all(stats.out_of_range_ratio < 0.01)
    assert not stats.constant.any()


def test_a_shift_a_new_category_and_a_null_burst_all_show(metadata: MetadataFactory) -> None:
    window = _window(metadata)
    rng = np.random.default_rng(8)
    features, scores = normal_traffic(rng, 2_000)
    features[:, 0] *= 4.0  # shifted amounts
    features[:1_000, 2] = 9.0  # a code never seen in training
    features[1_000:1_600, 1] = np.nan  # a null burst in a field that was never missing
    window.observe(features, np.clip(scores + 0.4, 0, 1), now=5.0)
    stats = window.stats(5.0, min_events=300)
    assert stats.feature_psi[0] > 1.0
    assert stats.feature_psi[1] > 0.25 and stats.null_ratio[1] == pytest.approx(0.3)
    assert stats.feature_psi[2] > 0.25 and stats.out_of_range_ratio[2] == pytest.approx(0.5)
    assert stats.out_of_range_ratio[0] > 0.05  # beyond the training maximum
    assert stats.score_psi > 1.0 and stats.score_js > 0.5


def test_too_few_events_read_nan_not_zero(metadata: MetadataFactory) -> None:
    window = _window(metadata)
    features, scores = normal_traffic(np.random.default_rng(2), 50)
    window.observe(features * 10, scores, now=1.0)
    stats = window.stats(1.0, min_events=300)
    assert not stats.enough and np.all(np.isnan(stats.feature_psi)) and math.isnan(stats.score_psi)


def test_old_traffic_slides_out_of_the_window(metadata: MetadataFactory) -> None:
    window = _window(metadata, window_s=600, slots=10)
    rng = np.random.default_rng(3)
    drifted, scores = normal_traffic(rng, 1_000)
    drifted[:, 0] *= 5
    window.observe(drifted, scores, now=0.0)
    assert window.stats(60.0, 300).feature_psi[0] > 1.0
    normal, scores = normal_traffic(rng, 1_000)
    window.observe(normal, scores, now=700.0)  # the drifted slot is now older than the window
    stats = window.stats(700.0, 300)
    assert stats.events == 1_000 and stats.feature_psi[0] < 0.05


def test_artifacts_without_a_reference_have_none() -> None:
    assert ModelReference.from_metadata({"version": "old", "feature_names": ["a"]}) is None
    assert ModelReference.from_metadata({"reference": {"features": {}}, "feature_names": ["a"]}) is None
