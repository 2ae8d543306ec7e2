"""The reduced ``make scale-test``: the three failover scenarios with fewer events.

Real processes on the local clusters of deploy/local/cluster.sh (started here when they are not
running): a three-node Kafka (RF 3, min ISR 2) and a six-node Redis Cluster (three masters, each
with a replica). ``make scale-test`` runs the same scenarios with 7.5 times the events (30,000
at 1,000/s against 4,000 at 500/s here) and prints their figures.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from scale.harness import SCENARIOS, ScaleConfig, cluster_up, run_scenario


@pytest.fixture(scope="module")
def clusters() -> None:
    cluster_up()


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_failover_under_a_steady_stream_loses_nothing(scenario: str, clusters: None, tmp_path: Path) -> None:
    result = run_scenario(scenario, ScaleConfig(events=4_000, rate=500, log_dir=tmp_path))
    report = result.report
    assert report is not None
    assert result.lost == 0, report.problems()
    assert result.produced == report.inputs == 4_000, result.problems()
    assert report.order_holds, report.order_violations[:5]
    if scenario == "redis":
        # duplicates only where Redis lost unreplicated writes, and then each one counted
        assert result.reemitted == result.counted_duplicates, result.line()
        assert len(report.decided_twice) <= result.counted_duplicates, result.line()
        assert result.duplicates_allowed, result.problems()
    else:
        assert result.duplicated == 0, report.problems()
        assert report.identity_holds, report.problems()
    assert result.ok, result.line()
