"""A failed commit after Redis was updated: the batch is aborted, Redis reconciled, the input redone."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from confluent_kafka import KafkaError, KafkaException

from helpers.kafka import produce
from processor.app import Processor
from processor.audit import audit
from processor.backoff import Backoff
from processor.checkpointing.transaction import Checkpointer
from processor.config import Settings, load_pipelines
from processor.devtools.simulate import FaultMix, simulate
from processor.messages import Event
from processor.stages.reorder import PartitionBuffer


class _FailingCommits(Checkpointer):
    """Fails chosen commits the way librdkafka does, after the batch's Redis change was applied."""

    def __init__(self, settings: Settings, backoff: Backoff, fail_on: dict[int, KafkaError]) -> None:
        super().__init__(settings, backoff)
        self.fail_on = fail_on
        self.commits = 0

    def _commit_with_retry(self) -> None:
        self.commits += 1
        error = self.fail_on.get(self.commits)
        if error is not None:
            raise KafkaException(error)
        super()._commit_with_retry()


@pytest.mark.parametrize(
    "error",
    [
        KafkaError(KafkaError._TIMED_OUT, "injected abortable", txn_requires_abort=True),
        KafkaError(KafkaError._FENCED, "injected fatal", fatal=True),
    ],
    ids=["abortable", "fatal"],
)
def test_failed_commits_are_redone_exactly_once(
    topic_factory: Callable[..., Settings], trained_models: Path, error: KafkaError
) -> None:
    settings = topic_factory(models_dir=trained_models, processing={"batch_size": 150})
    messages = simulate(2_000, seed=3, faults=FaultMix.default(), span_s=300.0)
    produce(settings, [(m.key, m.value) for m in messages])

    processor = Processor(settings, load_pipelines(settings.pipelines_file))
    processor.checkpoint = _FailingCommits(settings, processor.backoff, fail_on={2: error, 5: error})
    summary = processor.run(max_idle_s=4)

    # at least the two injected; librdkafka may add one (an abort that purged in-flight messages
    # makes the next transaction fail with OUT_OF_ORDER_SEQUENCE_NUMBER until the epoch is bumped)
    assert summary.aborts >= 2
    # the failed batches had already written their reorder-buffer generation: it was undone
    assert processor.metrics.generations_undone._value.get() >= 2
    report = audit(settings)
    assert report.identity_holds, report.problems()
    assert report.inputs == len(messages)
    assert report.order_holds, report.order_violations[:5]
    # the run's own totals count each input once, despite the redone batches
    assert summary.inputs == len(messages)
    assert summary.duplicates == report.duplicates_dropped


def test_a_poison_event_is_isolated_and_quarantined_and_the_rest_proceeds(
    topic_factory: Callable[..., Settings], trained_models: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = topic_factory(models_dir=trained_models, processing={"batch_size": 200})
    messages = simulate(1_000, seed=4, faults=FaultMix.none(), span_s=120.0)
    produce(settings, [(m.key, m.value) for m in messages])
    poison_id = messages[600].event_id
    real_admit = PartitionBuffer.admit

    def admit(self: PartitionBuffer, event: Event, now: float) -> bool:
        if event.event_id == poison_id:  # a bug only this event triggers, in a stage with no guard
            raise TypeError("unsupported operand for this event")
        return real_admit(self, event, now)

    monkeypatch.setattr(PartitionBuffer, "admit", admit)
    summary = Processor(settings, load_pipelines(settings.pipelines_file)).run(max_idle_s=4)

    report = audit(settings)
    assert report.identity_holds, report.problems()
    assert report.quarantine_by_reason == {("processing", "unhandled_exception"): 1}
    assert summary.quarantined == {("processing", "unhandled_exception"): 1}
    assert report.inputs == len(messages)
