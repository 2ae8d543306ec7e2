"""reorder: per-type watermarks, bounded delay, idle drain, net changes for Redis, restore."""

from __future__ import annotations

import random
from collections import defaultdict

import orjson
import pytest

from helpers.records import buffered_event as make_event
from processor.batch_stats import BatchStats
from processor.config import PipelinesConfig
from processor.messages import Event, RawMessage
from processor.stages.reorder import PartitionBuffer, Reorderer, committed, decode_event, encode_event, restore
from processor.state.reorder_store import StoredPartition

T0 = 1_717_200_000_000
LATENESS = 5_000
IDLE_S = 2.0
TOPIC = "events.raw"


def buffer(generation: int = 0) -> PartitionBuffer:
    return PartitionBuffer(topic=TOPIC, partition=0, generation=generation)


def offsets(events: list[Event]) -> list[int]:
    return [e.raw.offset for e in events]


def release(buf: PartitionBuffer, now: float = 0.0, *, flush: bool = False) -> list[Event]:
    return buf.release(now, LATENESS, IDLE_S, flush=flush)


# -- watermark and order ---------------------------------------------------------------------------


def test_nothing_is_released_before_the_watermark_passes_it():
    buf = buffer()
    assert buf.admit(make_event(0, T0), 0.0)
    assert buf.admit(make_event(1, T0 + LATENESS - 1), 0.0)
    assert release(buf) == []
    assert len(buf) == 2
    # max seen moves to T0 + LATENESS: watermark = T0 releases exactly the event at T0
    assert buf.admit(make_event(2, T0 + LATENESS), 0.0)
    assert offsets(release(buf)) == [0]
    assert len(buf) == 2


def test_release_is_in_event_time_then_sequence_then_offset_order():
    buf = buffer()
    arrivals = [
        make_event(0, T0 + 300),
        make_event(1, T0 + 100, sequence=2),
        make_event(2, T0 + 100, sequence=1),
        make_event(3, T0 + 200),
        make_event(4, T0 + 100),  # no sequence sorts before any sequence
        make_event(5, T0 + 200),
    ]
    for event in arrivals:
        assert buf.admit(event, 0.0)
    buf.admit(make_event(6, T0 + 300 + LATENESS), 0.0)
    assert offsets(release(buf)) == [4, 2, 1, 3, 5, 0]


def test_event_at_or_behind_the_watermark_is_late():
    buf = buffer()
    buf.admit(make_event(0, T0 + 10_000), 0.0)
    assert release(buf) == []  # watermark now T0 + 5_000
    assert buf.admit(make_event(1, T0 + 5_000), 0.0) is False
    assert buf.admit(make_event(2, T0), 0.0) is False
    assert buf.admit(make_event(3, T0 + 5_001), 0.0) is True
    assert len(buf) == 2  # late events are not buffered


def test_no_event_is_late_before_any_release():
    buf = buffer()
    buf.admit(make_event(0, T0 + 60_000), 0.0)
    assert buf.admit(make_event(1, T0), 0.0) is True  # the watermark only moves on release
    assert offsets(release(buf)) == [1]


def test_watermark_never_moves_backwards():
    buf = buffer()
    buf.admit(make_event(0, T0 + 20_000), 0.0)
    release(buf)
    buf.admit(make_event(1, T0 + 16_000), 0.0)
    assert release(buf) == []
    assert buf.admit(make_event(2, T0 + 15_000), 0.0) is False


def test_watermarks_are_per_event_type():
    buf = buffer()
    # a backfill of old tickets must not make today's sign-ups late, nor the reverse
    assert buf.admit(make_event(0, T0 + 3_600_000, event_type="user_signed_up"), 0.0)
    assert buf.admit(make_event(1, T0 - 86_400_000, event_type="jira_ticket_created"), 0.0)
    assert release(buf) == []
    assert buf.admit(make_event(2, T0 - 86_400_000 + 1, event_type="jira_ticket_created"), 0.0)
    assert buf.admit(make_event(3, T0 + 3_600_000 - 1, event_type="user_signed_up"), 0.0)
    buf.admit(make_event(4, T0 - 86_400_000 + LATENESS + 1, event_type="jira_ticket_created"), 0.0)
    assert offsets(release(buf)) == [1, 2]
    assert len(buf) == 3


def test_idle_timeout_releases_everything_of_a_quiet_type():
    buf = buffer()
    buf.admit(make_event(0, T0, event_type="user_signed_up"), 0.0)
    buf.admit(make_event(1, T0 + 1, event_type="user_signed_up"), 0.0)
    buf.admit(make_event(2, T0, event_type="jira_ticket_created"), 1.5)
    assert release(buf, now=IDLE_S - 0.001) == []
    # sign-ups have been quiet for the idle timeout; tickets arrived later and are not yet idle
    assert offsets(release(buf, now=IDLE_S)) == [0, 1]
    assert offsets(release(buf, now=1.5 + IDLE_S)) == [2]
    assert len(buf) == 0
    # after an idle drain the watermark is the max seen: anything not newer is late
    assert buf.admit(make_event(3, T0 + 1, event_type="user_signed_up"), 10.0) is False
    assert buf.admit(make_event(4, T0 + 2, event_type="user_signed_up"), 10.0) is True


def test_arrival_resets_the_idle_clock():
    buf = buffer()
    buf.admit(make_event(0, T0), 0.0)
    buf.admit(make_event(1, T0 + 1), 1.9)
    assert release(buf, now=2.5) == []
    assert offsets(release(buf, now=3.9)) == [0, 1]


def test_flush_releases_everything_in_order():
    buf = buffer()
    for offset, t in enumerate([T0 + 3, T0 + 1, T0 + 2]):
        buf.admit(make_event(offset, t, event_type="user_signed_up"), 0.0)
    buf.admit(make_event(3, T0, event_type="document_uploaded"), 0.0)
    out = release(buf, flush=True)
    assert offsets(out) == [3, 1, 2, 0]
    assert len(buf) == 0
    assert release(buf, flush=True) == []


def test_release_of_an_empty_buffer():
    assert release(buffer()) == []
    assert release(buffer(), flush=True) == []


def test_low_offset():
    buf = buffer()
    assert buf.low_offset() is None
    buf.admit(make_event(7, T0 + 1), 0.0)
    buf.admit(make_event(3, T0 + 20_000, event_type="jira_ticket_created"), 0.0)
    buf.admit(make_event(9, T0), 0.0)
    assert buf.low_offset() == 3
    buf.admit(make_event(10, T0 + 20_000, event_type="jira_ticket_created"), 0.0)
    buf.admit(make_event(11, T0 + 30_000, event_type="jira_ticket_created"), 0.0)
    release(buf)  # releases jira offsets 3 and 10
    assert buf.low_offset() == 7
    release(buf, flush=True)
    assert buf.low_offset() is None


# -- net change for Redis ------------------------------------------------------------------------


def test_take_change_reports_only_the_net_change():
    buf = buffer(generation=4)
    buf.admit(make_event(0, T0), 0.0)
    buf.admit(make_event(1, T0 + 1_000), 0.0)
    first = buf.take_change(new_generation=5)
    assert (first.topic, first.partition) == (TOPIC, 0)
    assert (first.expected_generation, first.new_generation) == (4, 5)
    assert sorted(first.added) == [0, 1]
    assert first.removed == []
    assert decode_event(TOPIC, 0, 0, first.added[0]).event_id == "user_signed_up-0"

    buf.generation = 5  # what the loop does once the transaction committed
    buf.admit(make_event(2, T0 + 500), 0.0)  # added ...
    buf.admit(make_event(3, T0 + 6_000), 0.0)  # added, moves the watermark to T0 + 1_000
    assert offsets(release(buf)) == [0, 2, 1]  # ... and released in the same batch
    second = buf.take_change(new_generation=6)
    assert (second.expected_generation, second.new_generation) == (5, 6)
    assert sorted(second.added) == [3]  # 2 came and went: Redis never sees it
    assert second.removed == [0, 1]  # persisted earlier, released now
    assert len(buf) == 1  # 3, the one event Redis now holds
    assert orjson.loads(second.clocks) == {"user_signed_up": [T0 + 6_000, T0 + 1_000]}


def test_take_change_resets_the_pending_change():
    buf = buffer()
    assert buf.dirty is False
    buf.admit(make_event(0, T0), 0.0)
    assert buf.dirty is True
    buf.take_change(1)
    assert buf.dirty is False
    empty = buf.take_change(2)
    assert dict(empty.added) == {} and list(empty.removed) == []
    assert empty.expected_generation == buf.generation


def test_late_admission_and_watermark_moves_make_the_buffer_dirty():
    buf = buffer()
    buf.admit(make_event(0, T0 + 10_000), 0.0)
    release(buf)  # moves the watermark
    buf.take_change(1)
    assert buf.admit(make_event(1, T0), 0.0) is False
    assert buf.dirty is True  # the clock's arrival changed; a late event is not added
    change = buf.take_change(2)
    assert dict(change.added) == {}
    release(buf)  # the watermark did not move: nothing to write
    assert buf.dirty is False


def test_take_change_does_not_reuse_removed_offsets():
    buf = buffer()
    buf.admit(make_event(0, T0), 0.0)
    buf.take_change(1)
    release(buf, flush=True)
    change = buf.take_change(2)
    assert list(change.removed) == [0] and len(buf) == 0


# -- restore from Redis ----------------------------------------------------------------------------


def test_encode_decode_event_round_trip():
    event = make_event(42, T0, sequence=3, extra={"email": "x@y.z", "nested": {"a": [1, 2]}, "u": "\u202e<b>"})
    event = Event(**{**{s: getattr(event, s) for s in Event.__slots__}, "coercions": ("age_years",)})
    back = decode_event(TOPIC, 0, 42, encode_event(event))
    assert back.record == event.record
    assert (back.event_id, back.event_type, back.entity_id) == (event.event_id, event.event_type, event.entity_id)
    assert (back.occurred_at, back.sequence, back.schema_version) == (T0, 3, 2)
    assert back.encoding == "json" and back.coercions == ("age_years",)
    assert (back.raw.topic, back.raw.partition, back.raw.offset) == (TOPIC, 0, 42)
    assert back.raw.key == event.raw.key and back.raw.timestamp_ms == event.raw.timestamp_ms
    assert back.order_key == event.order_key


def test_decode_event_with_null_key():
    event = make_event(1, T0)
    event = Event(**{**{s: getattr(event, s) for s in Event.__slots__}, "raw": RawMessage(TOPIC, 0, 1, None, b"{}")})
    assert decode_event(TOPIC, 0, 1, encode_event(event)).raw.key is None


def test_restore_round_trips_buffered_events_and_clocks():
    buf = buffer(generation=2)
    buf.admit(make_event(0, T0), 0.0)
    buf.admit(make_event(1, T0 + 8_000), 0.0)
    buf.admit(make_event(2, T0 + 2_000, event_type="jira_ticket_created"), 0.0)
    buf.admit(make_event(3, T0 + 9_000), 0.0)
    assert offsets(release(buf)) == [0]  # user_signed_up watermark T0 + 4_000
    change = buf.take_change(3)
    stored = StoredPartition(generation=3, clocks=change.clocks, items=dict(change.added))

    back = restore(TOPIC, 0, stored, now=100.0)
    assert back.generation == 3
    assert len(back) == 3
    assert sorted(e.raw.offset for heap in back.heaps.values() for _, e in heap) == [1, 2, 3]
    assert back.low_offset() == 1
    assert back.dirty is False
    # the watermark survived: an event the original would call late is late after restore
    assert back.admit(make_event(4, T0 + 4_000), 100.0) is False
    assert back.admit(make_event(5, T0 + 4_001), 100.0) is True
    # nothing is released early, and order is preserved
    assert release(back, now=100.0) == []
    out = release(back, now=100.0, flush=True)
    assert offsets(out) == [2, 5, 1, 3]
    assert [e.event_id for e in out] == [
        "jira_ticket_created-2",
        "user_signed_up-5",
        "user_signed_up-1",
        "user_signed_up-3",
    ]
    change = back.take_change(4)
    assert sorted(change.removed) == [1, 2, 3]  # restored items came from Redis
    assert list(change.added) == []  # 5 came and went


def test_restore_of_an_empty_partition():
    back = restore(TOPIC, 1, StoredPartition(generation=0, clocks=None, items={}), now=0.0)
    assert (len(back), back.generation, back.partition, back.low_offset()) == (0, 0, 1, None)
    assert back.admit(make_event(0, T0, partition=1), 0.0) is True


def test_restored_quiet_types_drain_after_the_idle_timeout():
    buf = buffer()
    buf.admit(make_event(0, T0), 0.0)
    change = buf.take_change(1)
    back = restore(TOPIC, 0, StoredPartition(1, change.clocks, dict(change.added)), now=50.0)
    assert release(back, now=50.0 + IDLE_S - 0.01) == []
    assert offsets(release(back, now=50.0 + IDLE_S)) == [0]


# -- property: bounded disorder never loses, reorders or lates anything ----------------------------


@pytest.mark.parametrize("seed", range(8))
def test_bounded_disorder_comes_out_sorted_per_entity(seed):
    rng = random.Random(seed)
    types = {"user_signed_up": T0, "jira_ticket_created": T0 - 30 * 86_400_000, "document_uploaded": T0 + 1_000}
    entities = [(f"ent-{i}", rng.choice(list(types))) for i in range(12)]
    disorder = rng.randint(0, LATENESS - 1)  # every arrival is less than the lateness behind the max seen
    produced = []
    for entity, event_type in entities:
        t = types[event_type] + rng.randint(0, 2_000)
        for seq in range(rng.randint(1, 30)):
            t += rng.choice([0, 0, 1, rng.randint(1, 3_000)])  # ties in event time are broken by sequence
            produced.append((t + rng.uniform(0, disorder), entity, event_type, seq, t))
    produced.sort(key=lambda p: p[0])  # arrival order: event time plus a jitter below the lateness

    buf = buffer()
    redis_items: dict[int, bytes] = {}  # what Redis would hold: every batch's net change applied
    redis_clocks: bytes | None = None
    released: list[Event] = []
    now = 0.0
    offset = 0
    i = 0
    while i < len(produced):
        batch = produced[i : i + rng.randint(1, 25)]
        i += len(batch)
        for _, entity, event_type, seq, t in batch:
            event = make_event(offset, t, entity=entity, event_type=event_type, sequence=seq)
            offset += 1
            assert buf.admit(event, now), f"seed {seed}: {entity} seq {seq} at {t} declared late"
        out = release(buf, now)
        assert [e.order_key for e in out] == sorted(e.order_key for e in out)
        released.extend(out)
        if buf.dirty:
            change = buf.take_change(buf.generation + 1)
            assert not set(change.added) & set(redis_items)
            assert set(change.removed) <= set(redis_items)
            redis_items.update(change.added)
            for gone in change.removed:
                del redis_items[gone]
            redis_clocks = change.clocks
            buf.generation = change.new_generation
        assert set(redis_items) == {item[1].raw.offset for heap in buf.heaps.values() for item in heap}
        if rng.random() < 0.3:  # a restart: the buffer comes back from Redis alone
            buf = restore(TOPIC, 0, StoredPartition(buf.generation, redis_clocks, dict(redis_items)), now)
        now += 0.01  # far below the idle timeout: only watermarks release
    released.extend(release(buf, now, flush=True))

    assert len(released) == len(produced)
    assert len({e.raw.offset for e in released}) == len(produced)
    by_entity: dict[str, list[int]] = defaultdict(list)
    for event in released:
        by_entity[event.entity_id].append(event.sequence or 0)
    for entity, seqs in by_entity.items():
        assert seqs == list(range(len(seqs))), f"seed {seed}: {entity} came out as {seqs}"


def test_buffered_events_keep_their_original_bytes_for_a_later_quarantine():
    event = make_event(7, T0)
    raw = RawMessage(TOPIC, 0, 7, b"\xff\x00key", b"\xc3\x01\x00binary\xfe", (("trace", b"\x01\x02"), ("empty", None)))
    event = Event(**{**{s: getattr(event, s) for s in Event.__slots__}, "raw": raw})
    back = decode_event(TOPIC, 0, 7, encode_event(event)).raw
    assert (back.key, back.value, back.headers) == (raw.key, raw.value, raw.headers)


# -- the stage: admit, late policy, release, changes -----------------------------------------------


def test_the_stage_flags_or_quarantines_late_events_by_their_type_s_policy(pipelines: PipelinesConfig) -> None:
    """user_signed_up is ``flag`` (processed, marked late), document_uploaded ``quarantine``."""
    stage = Reorderer(pipelines, LATENESS, IDLE_S)
    buffers = {0: buffer()}
    stage.run(
        [make_event(1, T0 + 10_000), make_event(2, T0 + 10_000, event_type="document_uploaded")],
        buffers,
        0.0,
        BatchStats(),
    )
    stats = BatchStats()
    late_signup = make_event(3, T0)  # behind both watermarks (T0 + 5_000) once released
    late_document = make_event(4, T0, event_type="document_uploaded")
    stage.run([], buffers, 0.0, BatchStats(), flush=True)  # watermarks up to T0 + 10_000
    out = stage.run([late_signup, late_document], buffers, 0.0, stats)

    assert [(e.raw.offset, e.late) for e in out.ready] == [(3, True)]
    (rejected,) = out.late
    assert rejected.raw.offset == 4
    assert (rejected.reason.stage, rejected.reason.code, rejected.reason.field) == (
        "late",
        "behind_watermark",
        "occurred_at",
    )
    assert stats.late == {("user_signed_up", "flag"): 1, ("document_uploaded", "quarantine"): 1}


def test_the_stage_releases_across_partitions_and_changes_only_the_buffers_it_touched(
    pipelines: PipelinesConfig,
) -> None:
    stage = Reorderer(pipelines, LATENESS, IDLE_S)
    buffers = {0: buffer(generation=3), 1: PartitionBuffer(topic=TOPIC, partition=1, generation=7)}
    first = stage.run([make_event(10, T0 + 1_000), make_event(11, T0)], buffers, 0.0, BatchStats())
    assert first.ready == [] and first.late == []
    # only partition 0 was touched: one change, to its next generation
    assert [(c.partition, c.expected_generation, c.new_generation) for c in first.changes] == [(0, 3, 4)]
    assert sorted(first.changes[0].added) == [10, 11]

    # the transaction committed: generation 4 is the buffer's; the next change builds on it
    committed(buffers, first.changes)
    assert buffers[0].generation == 4 and buffers[1].generation == 7
    later = stage.run([make_event(12, T0 + 9_000, partition=1)], buffers, 0.0, BatchStats(), flush=True)
    assert offsets(later.ready) == [11, 10, 12]  # partition 0 in event-time order, then partition 1
    assert [(c.partition, c.expected_generation, c.new_generation) for c in later.changes] == [(0, 4, 5), (1, 7, 8)]
    assert later.changes[0].removed == [10, 11] and later.changes[1].added == {}  # 12 came and went
