"""The input partitions this process holds: their reorder buffers, positions and rebuild windows.

On assignment each partition's Redis state is claimed (an owner token: a process whose partition
moved elsewhere can no longer write it), reconciled to the generation of the last commit (what an
aborted transaction left is undone, docs/design.md §4) and loaded into its reorder buffer; the
consumer starts at the committed offset. When Redis lost the partition's state, the commit
metadata says where the buffer's oldest event was: the partition is rebuilt from there
(at-least-once for that stretch), and the outputs re-emitted beyond what the lost buffer held are
counted as duplicates. A rewind (a batch that did not commit) does the same without claiming:
Redis back to the committed generation, buffers reloaded, the consumer seeked to the commit.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, TopicPartition

from processor.backoff import Backoff
from processor.batch_stats import BatchStats
from processor.checkpointing.metadata import CommitMetadata
from processor.logs import input_fields
from processor.messages import RawMessage
from processor.monitoring.metrics import Metrics
from processor.stages.reorder import PartitionBuffer, committed, restore
from processor.state.redis_client import UNAVAILABLE
from processor.state.reorder_store import BufferChange, ReorderStore, StateLostError

log = logging.getLogger(__name__)

#: Deadline of the broker calls made here (committed offsets).
METADATA_TIMEOUT_S = 15.0


@dataclass(slots=True)
class RebuildWindow:
    """A partition rebuilt after Redis lost its state: inputs below ``end`` are re-read."""

    end: int  # the committed offset when the state was found lost
    held: int  # events the lost buffer held: their outputs had not been emitted yet
    reemitted: int = 0  # outputs emitted so far for inputs below ``end``

    def answered(self, offset: int) -> int:
        """An output for input ``offset`` was committed: how many duplicates that makes (0 or 1).
        Every output below ``end`` is a re-emission; the first ``held`` of them were owed."""
        if offset >= self.end:
            return 0
        before = max(0, self.reemitted - self.held)
        self.reemitted += 1
        return max(0, self.reemitted - self.held) - before


class Partitions:
    def __init__(self, topic: str, owner_prefix: str, store: ReorderStore, metrics: Metrics, backoff: Backoff) -> None:
        self.topic = topic
        self._owner_prefix = owner_prefix
        self._store = store
        self._metrics = metrics
        self._backoff = backoff
        self.buffers: dict[int, PartitionBuffer] = {}
        #: The next input offset to commit, per assigned partition with a committed offset or input.
        self.positions: dict[int, int] = {}
        self._rebuilds: dict[int, RebuildWindow] = {}

    # -- what the loop asks ----------------------------------------------------------------------

    def assigned(self, partition: int) -> bool:
        return partition in self.buffers

    def holding(self) -> bool:
        """Some buffer holds events: batches must go on (to release them) even without input."""
        return any(len(b) for b in self.buffers.values())

    def advance(self, raws: Iterable[RawMessage]) -> None:
        """The batch consumed ``raws``: its commit moves each partition past them."""
        for r in raws:
            self.positions[r.partition] = r.offset + 1

    def committed(self, changes: Sequence[BufferChange]) -> None:
        """The transaction carrying ``changes`` committed: their generations are now the buffers'."""
        committed(self.buffers, changes)

    def lag(self, consumer: Consumer | None) -> dict[int, int]:
        """Per assigned partition, messages between the committed position and the end (cached
        high watermarks from fetch responses: no broker round trip)."""
        if consumer is None:
            return {}
        lag = {}
        for partition, position in list(self.positions.items()):
            try:
                _, high = consumer.get_watermark_offsets(TopicPartition(self.topic, partition), cached=True)
            except KafkaException:
                continue
            if high >= 0:
                lag[partition] = high - position
        return lag

    def rebuild_duplicates(self, stats: BatchStats) -> int:
        """Outputs of a committed batch that a rebuild emitted twice. Every output for an input
        below a rebuild's end is a re-emission, except for the events the lost buffer still held:
        the excess over those is a duplicate."""
        if not self._rebuilds:
            return 0
        duplicates = 0
        for partition, offset in stats.answered:
            window = self._rebuilds.get(partition)
            if window is not None:
                duplicates += window.answered(offset)
        return duplicates

    # -- rebalance callbacks (they run inside consume()) -----------------------------------------

    def on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        committed = consumer.committed(partitions, timeout=METADATA_TIMEOUT_S)
        for tp in committed:
            rebuild_from = self._load_retrying(tp)
            if rebuild_from is not None:
                tp.offset = rebuild_from
            else:
                tp.offset = tp.offset if tp.offset >= 0 else OFFSET_BEGINNING
        consumer.assign(committed)
        assigned = sorted(tp.partition for tp in committed)
        log.info("assigned %s", assigned, extra={"topic": self.topic, "partitions": assigned})

    def on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        for tp in partitions:
            self.buffers.pop(tp.partition, None)
            self.positions.pop(tp.partition, None)
        revoked = sorted(tp.partition for tp in partitions)
        log.info("revoked %s", revoked, extra={"topic": self.topic, "partitions": revoked})

    # -- back to the last commit -----------------------------------------------------------------

    def rewind(self, consumer: Consumer) -> None:
        """Back to the last commit: Redis reconciled, buffers reloaded, consumer seeked."""
        partitions = [TopicPartition(self.topic, p) for p in self.buffers]
        if not partitions:
            return
        committed = consumer.committed(partitions, timeout=METADATA_TIMEOUT_S)
        for tp in committed:
            rebuild_from = self._load(tp, claim=False)
            offset = tp.offset if tp.offset >= 0 else OFFSET_BEGINNING
            if rebuild_from is not None:
                offset = rebuild_from
            consumer.seek(TopicPartition(self.topic, tp.partition, offset))

    def rewind_waiting(self, consumer: Consumer) -> None:
        """``rewind``, waiting the broker out (after a failed commit: it may be restarting)."""
        self._backoff.retry("rewind", lambda: self.rewind(consumer), dependency="kafka", transient=(KafkaException,))

    def _load_retrying(self, tp: TopicPartition) -> int | None:
        """``_load`` on assignment, waiting Redis out (a Redis Cluster failover takes seconds):
        an error escaping a rebalance callback would end the process."""
        return self._backoff.retry(
            f"loading partition {tp.partition}",
            lambda: self._load(tp),
            dependency="redis",
            transient=UNAVAILABLE,
        )

    def _load(self, tp: TopicPartition, claim: bool = True) -> int | None:
        """Claim the partition's Redis state (on assignment), reconcile it with the committed
        generation and load the buffer.

        Returns an offset to seek back to when Redis had lost the partition's state. Raises
        OwnershipLostError when another process claimed the partition since this one did.
        """
        meta = CommitMetadata.decode(tp.metadata) if tp.offset >= 0 else None
        generation = meta.generation if meta is not None else 0
        store = self._store
        if claim:
            owner = f"{self._owner_prefix}:{uuid.uuid4().hex[:8]}"
            store.claim(self.topic, tp.partition, owner)
        else:
            owner = self.buffers[tp.partition].owner if tp.partition in self.buffers else ""
        rebuild_from = None
        try:
            undone = store.reconcile(self.topic, tp.partition, generation, owner)
            if undone:
                log.info(
                    "partition %d: undid %d uncommitted generation(s) in Redis",
                    tp.partition,
                    undone,
                    extra={"topic": self.topic, "partition": tp.partition, "generations_undone": undone},
                )
                self._metrics.generations_undone.inc(undone)
        except StateLostError as exc:
            assert meta is not None
            log.error(
                "%s; rebuilding from offset %d (at-least-once for this stretch)",
                exc,
                meta.low_offset,
                extra=input_fields(self.topic, tp.partition, meta.low_offset, error_code="state_lost"),
            )
            self._metrics.state_rebuilds.inc()
            store.reset(self.topic, tp.partition, generation, owner)
            rebuild_from = meta.low_offset
            self._rebuilds[tp.partition] = RebuildWindow(end=tp.offset, held=meta.held)
        stored = store.load(self.topic, tp.partition)
        self.buffers[tp.partition] = restore(self.topic, tp.partition, stored, time.monotonic(), owner)
        if tp.offset >= 0:
            self.positions[tp.partition] = rebuild_from if rebuild_from is not None else tp.offset
        else:
            self.positions.pop(tp.partition, None)
        return rebuild_from
