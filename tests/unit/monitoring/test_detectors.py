"""Each silent-failure detector fires on its failure and stays quiet on normal traffic."""

from __future__ import annotations

import numpy as np
import pytest

from processor.config import MonitoringSettings
from processor.monitoring.detectors import TrafficWindow, feature_constant, score_collapsed
from processor.monitoring.drift import DriftWindow, ModelReference

from .conftest import MetadataFactory, normal_traffic

SETTINGS = MonitoringSettings(
    min_window_events=300,
    volume_baseline_s=600,
    volume_quiet_s=60,
    volume_min_per_minute=10,
    quarantine_recent_s=60,
    quarantine_min_events=100,
)


@pytest.fixture
def window(metadata: MetadataFactory) -> DriftWindow:
    reference = ModelReference.from_metadata(metadata())
    assert reference is not None
    return DriftWindow(reference, 600.0, 10)


# -- score_collapsed ------------------------------------------------------------------------------


def test_score_collapsed_fires_on_a_constant_score(window: DriftWindow) -> None:
    features, _ = normal_traffic(np.random.default_rng(1), 1_000)
    window.observe(features, np.full(1_000, 0.137), now=1.0)
    assert score_collapsed(window.stats(1.0, 300), SETTINGS)


def test_score_collapsed_quiet_on_normal_scores(window: DriftWindow) -> None:
    features, scores = normal_traffic(np.random.default_rng(1), 1_000)
    window.observe(features, scores, now=1.0)
    assert not score_collapsed(window.stats(1.0, 300), SETTINGS)


def test_score_collapsed_quiet_when_too_few_scores(window: DriftWindow) -> None:
    features, _ = normal_traffic(np.random.default_rng(1), 100)
    window.observe(features, np.full(100, 0.5), now=1.0)
    assert not score_collapsed(window.stats(1.0, 300), SETTINGS)


# -- feature_constant -----------------------------------------------------------------------------


def test_feature_constant_fires_when_a_feature_freezes(window: DriftWindow) -> None:
    features, scores = normal_traffic(np.random.default_rng(2), 1_000)
    features[:, 0] = 20.0  # an upstream field stuck at one value
    window.observe(features, scores, now=1.0)
    stats = window.stats(1.0, 300)
    assert feature_constant(stats) and stats.constant.tolist() == [True, False, False]


def test_feature_constant_fires_when_a_feature_is_all_null(window: DriftWindow) -> None:
    features, scores = normal_traffic(np.random.default_rng(2), 1_000)
    features[:, 2] = np.nan  # the field is no longer sent at all
    window.observe(features, scores, now=1.0)
    assert window.stats(1.0, 300).constant.tolist() == [False, False, True]


def test_feature_constant_quiet_on_normal_traffic_and_on_a_rare_flag(window: DriftWindow) -> None:
    features, scores = normal_traffic(np.random.default_rng(3), 400)
    window.observe(features, scores, now=1.0)
    assert not feature_constant(window.stats(1.0, 300))
    # a 30 % flag that happens to be all zero in 400 rows is impossible by chance: it fires...
    frozen = features.copy()
    frozen[:, 1] = 0.0
    window2 = DriftWindow(window.reference, 600.0, 10)
    window2.observe(frozen, scores, now=1.0)
    assert window2.stats(1.0, 300).constant[1]


def test_feature_constant_quiet_for_a_rare_flag_that_is_simply_absent(metadata: MetadataFactory) -> None:
    meta = metadata()
    rare = np.zeros(20_000)
    rare[:40] = 1.0  # 0.2 % of training rows: 300 live rows without one is ordinary
    from processor.training.training import _reference

    meta["reference"]["features"]["flag"] = _reference(rare)
    reference = ModelReference.from_metadata(meta)
    assert reference is not None
    window = DriftWindow(reference, 600.0, 10)
    features, scores = normal_traffic(np.random.default_rng(4), 300)
    features[:, 1] = 0.0
    window.observe(features, scores, now=1.0)
    assert not feature_constant(window.stats(1.0, 300))


# -- volume_stopped ---------------------------------------------------------------------------------


def _flow(traffic: TrafficWindow, start: float, end: float, per_s: int, quarantined_share: float = 0.0) -> None:
    for t in range(int(start), int(end)):
        for event_type in traffic.event_types:
            traffic.observe(event_type, per_s, round(per_s * quarantined_share), float(t))


def test_volume_stopped_fires_when_a_flowing_type_goes_silent() -> None:
    traffic = TrafficWindow(("a", "b"), SETTINGS, now=0.0)
    _flow(traffic, 0, 600, per_s=2)
    for t in range(600, 700):  # only "b" keeps flowing
        traffic.observe("b", 2, 0, float(t))
    assert traffic.volume_stopped(700.0).tolist() == [True, False]


def test_volume_stopped_quiet_while_traffic_flows_or_never_flowed() -> None:
    traffic = TrafficWindow(("a", "rare"), SETTINGS, now=0.0)
    for t in range(0, 700):
        traffic.observe("a", 2, 0, float(t))
        if t % 120 == 0:
            traffic.observe("rare", 1, 0, float(t))  # far below the minimum rate: silence is normal
    assert traffic.volume_stopped(700.0).tolist() == [False, False]


def test_volume_stopped_quiet_right_after_start() -> None:
    traffic = TrafficWindow(("a",), SETTINGS, now=1_000.0)
    assert not traffic.volume_stopped(1_010.0)[0]


# -- quarantine_jump --------------------------------------------------------------------------------


def test_quarantine_jump_fires_when_the_share_jumps() -> None:
    traffic = TrafficWindow(("a",), SETTINGS, now=0.0)
    _flow(traffic, 0, 600, per_s=10, quarantined_share=0.02)
    _flow(traffic, 600, 660, per_s=10, quarantined_share=0.3)
    recent, base = traffic.quarantine_ratios(660.0)
    assert recent[0] > 0.25 and base[0] < 0.05
    assert traffic.quarantine_jump(660.0)[0]


def test_quarantine_jump_quiet_on_a_steady_share() -> None:
    traffic = TrafficWindow(("a",), SETTINGS, now=0.0)
    _flow(traffic, 0, 660, per_s=10, quarantined_share=0.1)  # high, but it always was
    assert not traffic.quarantine_jump(660.0)[0]


def test_quarantine_jump_quiet_without_a_baseline() -> None:
    traffic = TrafficWindow(("a",), SETTINGS, now=0.0)
    _flow(traffic, 0, 60, per_s=10, quarantined_share=0.5)
    assert not traffic.quarantine_jump(60.0)[0]
