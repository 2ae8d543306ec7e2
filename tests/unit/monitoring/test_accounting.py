"""accounting: a committed batch's metrics and the run's totals; an abort counts only as an abort."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis
from prometheus_client import CollectorRegistry

from processor.batch_stats import BatchStats
from processor.config import MonitoringSettings
from processor.decide.killswitch import KillSwitch
from processor.monitoring.accounting import Accounting, RunSummary
from processor.monitoring.metrics import Metrics
from processor.monitoring.monitor import Monitor
from processor.serving.worker import ModelWorker
from processor.state.keys import Keys

TOPIC = "events.raw"


@pytest.fixture
def accounting(tmp_path: Path) -> Accounting:
    metrics = Metrics.create(CollectorRegistry())
    types = ["user_signed_up"]
    worker = ModelWorker(tmp_path, {}, reload_interval_s=60, latency_budget_ms=100)  # no model: nothing to shadow
    # the switch's state is read from what it last polled: Redis is never reached here
    switch = KillSwitch(redis.Redis(host="127.0.0.1", port=1), Keys("t:"), types, default="off", poll_interval_s=60)
    monitor = Monitor(
        MonitoringSettings(), metrics, types, TOPIC, references=lambda *_: None, dependencies=dict, lag=dict
    )
    return Accounting(metrics, TOPIC, worker, switch, monitor)


def _value(accounting: Accounting, name: str, **labels: str) -> float:
    value = accounting.metrics.registry.get_sample_value(name, labels)
    return 0.0 if value is None else value


def _batch() -> BatchStats:
    stats = BatchStats(inputs=4)
    stats.outcomes.update({("user_signed_up", "scored"): 2, ("user_signed_up", "quarantined"): 1})
    stats.quarantined[("validate", "missing_field")] += 1
    stats.duplicates["user_signed_up"] += 1
    stats.decisions[("user_signed_up", "model", "scored")] += 2
    stats.scores["user_signed_up"].extend([0.2, 0.9])
    return stats


def test_a_committed_batch_counts_in_the_metrics_and_the_totals(accounting: Accounting) -> None:
    accounting.committed(_batch(), {0: [1, 2], 1: []})
    accounting.committed(_batch(), {0: [1], 1: []})

    assert _value(accounting, "processor_transactions_total", result="committed") == 2
    assert _value(accounting, "processor_input_messages_total", topic=TOPIC) == 8
    assert _value(accounting, "processor_outcomes_total", event_type="user_signed_up", outcome="scored") == 4
    assert _value(accounting, "processor_quarantined_total", stage="validate", error_code="missing_field") == 2
    assert _value(accounting, "processor_score_count", event_type="user_signed_up") == 4
    assert _value(accounting, "processor_reorder_buffered_events", partition="0") == 1  # what it holds now

    s = accounting.summary
    assert (s.inputs, s.transactions, s.aborts, s.duplicates) == (8, 2, 0, 2)
    assert s.outcomes == {"scored": 4, "quarantined": 2}
    assert s.decision_sources == {"model": 4}


def test_an_abort_counts_no_work(accounting: Accounting) -> None:
    accounting.aborted()
    assert _value(accounting, "processor_transactions_total", result="aborted") == 1
    assert _value(accounting, "processor_transactions_total", result="committed") == 0
    assert (accounting.summary.aborts, accounting.summary.inputs) == (1, 0)


def test_a_rebuild_s_duplicates_are_counted_where_the_audit_looks(accounting: Accounting) -> None:
    accounting.committed(BatchStats(inputs=3), {}, rebuild_duplicates=2)
    accounting.committed(BatchStats(inputs=1), {})
    assert _value(accounting, "processor_at_least_once_duplicates_total") == 2
    assert accounting.summary.at_least_once_duplicates == 2


def test_throughput_runs_from_the_first_input_to_the_last_committed_output() -> None:
    summary = RunSummary()
    assert summary.throughput() == 0.0
    summary.consumed(100.0)
    summary.consumed(105.0)  # the clock starts once
    summary.add(BatchStats(inputs=50))
    assert summary.first_input == 100.0 and summary.last_output is not None
    summary.last_output = 110.0
    assert summary.throughput() == 5.0
