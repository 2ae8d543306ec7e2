"""checkpointing.transaction: the input offsets a transaction commits and the metadata with each."""

from __future__ import annotations

from helpers.records import buffered_event
from processor.checkpointing.metadata import CommitMetadata
from processor.checkpointing.transaction import commit_offsets
from processor.stages.reorder import PartitionBuffer
from processor.state.reorder_store import BufferChange

TOPIC = "events.raw"


def _change(partition: int, new_generation: int) -> BufferChange:
    return BufferChange(
        topic=TOPIC,
        partition=partition,
        expected_generation=new_generation - 1,
        new_generation=new_generation,
        clocks=b"{}",
        added={},
        removed=[],
    )


def _holding(partition: int, generation: int, offsets: list[int]) -> PartitionBuffer:
    buffer = PartitionBuffer(topic=TOPIC, partition=partition, generation=generation)
    for offset in offsets:
        buffer.admit(buffered_event(offset, 1_000 + offset, partition=partition), 0.0)
    return buffer


def test_each_partition_commits_its_position_with_the_generation_the_batch_wrote() -> None:
    buffers = {0: _holding(0, 4, []), 1: _holding(1, 9, [])}
    offsets = commit_offsets(TOPIC, {0, 1}, {0: 120, 1: 75}, buffers, [_change(0, 5)])
    assert [(tp.topic, tp.partition, tp.offset) for tp in offsets] == [(TOPIC, 0, 120), (TOPIC, 1, 75)]
    meta = {tp.partition: CommitMetadata.decode(tp.metadata) for tp in offsets}
    # partition 0's buffer changed in this batch (generation 5); partition 1's did not (still 9)
    assert meta == {0: CommitMetadata(5, 120, 0), 1: CommitMetadata(9, 75, 0)}


def test_a_buffer_still_holding_events_commits_its_lowest_offset_and_how_many_it_holds() -> None:
    buffers = {2: _holding(2, 1, [43, 40, 57])}
    (tp,) = commit_offsets(TOPIC, {2}, {2: 60}, buffers, [_change(2, 2)])
    assert tp.offset == 60
    # a rebuild after Redis lost the buffer re-reads from 40; of [40, 60) three were never emitted
    assert CommitMetadata.decode(tp.metadata) == CommitMetadata(generation=2, low_offset=40, held=3)


def test_partitions_without_a_position_are_left_out_and_the_order_is_by_partition() -> None:
    buffers = {p: _holding(p, 0, []) for p in (0, 3, 7)}
    offsets = commit_offsets(TOPIC, [7, 0, 3], {7: 1, 0: 5}, buffers, [])
    assert [(tp.partition, tp.offset) for tp in offsets] == [(0, 5), (7, 1)]
    assert commit_offsets(TOPIC, set(), {0: 5}, buffers, []) == []
