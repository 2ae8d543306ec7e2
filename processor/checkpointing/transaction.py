"""The batch's Kafka transaction: outputs and input offsets committed together, or not at all.

Per batch (docs/design.md §5): ``begin_transaction``, produce every output, then
``send_offsets_to_transaction`` with, per input partition touched, the next offset to read and
its ``CommitMetadata`` (the Redis generation this commit matches, the lowest offset the reorder
buffer still holds, how many events it holds), then ``commit_transaction``. A failed commit is
aborted (an abortable error) or the producer is created anew (a fatal one, or an abort that
fails): ``init_transactions`` of the new producer fences any older instance of ours, so a
half-done transaction never lands.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

from processor.backoff import Backoff
from processor.checkpointing.metadata import CommitMetadata
from processor.config import Settings
from processor.kafka.clients import make_transactional_producer
from processor.kafka.deadline import call_with_deadline
from processor.messages import OutputRecord
from processor.stages.reorder import PartitionBuffer
from processor.state.reorder_store import BufferChange

log = logging.getLogger(__name__)

#: Each transactional call's own deadline (a shutdown's grace period is sized from it).
TXN_TIMEOUT_S = 15.0
#: Attempts at ``commit_transaction`` while it fails with retriable errors (at once, no wait).
COMMIT_ATTEMPTS = 3


def commit_offsets(
    topic: str,
    touched: Iterable[int],
    positions: dict[int, int],
    buffers: dict[int, PartitionBuffer],
    changes: Sequence[BufferChange],
) -> list[TopicPartition]:
    """The input offsets the transaction commits: for each touched partition with a position,
    that position plus the metadata that ties it to the partition's Redis state."""
    generations = {c.partition: c.new_generation for c in changes}
    offsets = []
    for partition in sorted(touched):
        position = positions.get(partition)
        if position is None:
            continue
        buffer = buffers[partition]
        low = buffer.low_offset()
        meta = CommitMetadata(
            generation=generations.get(partition, buffer.generation),
            low_offset=position if low is None else low,
            held=len(buffer),
        )
        offsets.append(TopicPartition(topic, partition, position, metadata=meta.encode()))
    return offsets


class Checkpointer:
    """Owns the transactional producer: commits a batch, or aborts it and leaves it to be redone."""

    def __init__(self, settings: Settings, backoff: Backoff) -> None:
        self._settings = settings
        self._backoff = backoff
        self._producer: Any = None

    def start(self) -> None:
        """A fresh transactional producer; initialising it fences any previous instance of ours.
        Waits for the broker (a restart takes seconds)."""

        def create() -> None:
            producer = make_transactional_producer(self._settings)
            call_with_deadline("init_transactions", lambda: producer.init_transactions(TXN_TIMEOUT_S), TXN_TIMEOUT_S)
            self._producer = producer

        self._backoff.retry("init_transactions", create, dependency="kafka", transient=(KafkaException,))

    def close(self) -> None:
        if self._producer is not None:
            self._producer.flush(10)
            self._producer = None

    def commit(self, consumer: Consumer, outputs: Sequence[OutputRecord], offsets: list[TopicPartition]) -> None:
        """One transaction: ``outputs`` and ``offsets`` land together. Raises ``KafkaException``
        when it did not commit; then call ``abort``."""
        producer = self._producer
        assert producer is not None, "start() first"
        producer.begin_transaction()
        for record in outputs:
            while True:
                try:
                    producer.produce(record.topic, record.value, record.key, headers=list(record.headers))
                    break
                except BufferError:
                    producer.poll(0.05)  # local queue full: let deliveries drain
        if offsets:
            group = consumer.consumer_group_metadata()
            call_with_deadline(
                "send_offsets_to_transaction",
                lambda: producer.send_offsets_to_transaction(offsets, group, TXN_TIMEOUT_S),
                TXN_TIMEOUT_S,
            )
        self._commit_with_retry()

    def _commit_with_retry(self) -> None:
        """``commit_transaction``, again at once on a retriable error (librdkafka's advice): the
        transaction is still open and whole, nothing to wait out."""
        producer = self._producer
        for attempt in range(COMMIT_ATTEMPTS):
            try:
                call_with_deadline(
                    "commit_transaction", lambda: producer.commit_transaction(TXN_TIMEOUT_S), TXN_TIMEOUT_S
                )
                return
            except KafkaException as exc:
                err: KafkaError = exc.args[0]
                if err.retriable() and attempt < COMMIT_ATTEMPTS - 1:
                    log.warning(
                        "commit_transaction retriable error, retrying: %s", err, extra={"error_code": err.name()}
                    )
                    continue
                raise

    def abort(self, exc: KafkaException) -> None:
        """The commit failed: nothing of the batch landed. Abort the transaction, or, when the
        producer is fenced or broken (a fatal error, an abort that fails), replace it."""
        err: KafkaError = exc.args[0]
        if err.fatal():
            log.error("fatal producer error, recreating the producer: %s", err, extra={"error_code": err.name()})
            self.start()
            return
        log.warning("transaction failed, aborting and rewinding: %s", err, extra={"error_code": err.name()})
        producer = self._producer
        try:
            call_with_deadline("abort_transaction", lambda: producer.abort_transaction(TXN_TIMEOUT_S), TXN_TIMEOUT_S)
        except KafkaException as abort_exc:
            log.error("abort failed, recreating the producer: %s", abort_exc)
            self.start()
