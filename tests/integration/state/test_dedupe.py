"""Dedupe marks on a real Redis: first sighting wins, a replay of the same offset is the original,
an event id is remembered for exactly the TTL, and marks are compact fields of expiring hashes."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import redis

from processor.messages import Event, RawMessage
from processor.state.dedupe import DedupeStore
from processor.state.keys import Keys

T0 = 1_800_000_000.0


def _event(event_id: str, offset: int, partition: int = 0) -> Event:
    raw = RawMessage("raw", partition, offset, None, b"{}")
    return Event(raw, {}, event_id, "t", "e", 0, None, None, "json")


def _clock(start: float) -> tuple[list[float], Callable[[], float]]:
    now = [start]
    return now, lambda: now[0]


def test_first_sighting_wins_and_replays_are_originals(redis_client: redis.Redis) -> None:
    keys = Keys(f"it:{uuid.uuid4().hex[:8]}:")
    store = DedupeStore(redis_client, keys, ttl_s=60)
    assert store.first_sightings([_event("a", 1), _event("b", 2), _event("a", 3)]) == [True, True, False]
    # after a crash, Kafka replays offsets 1..3: the originals are still originals
    assert store.first_sightings([_event("a", 1), _event("b", 2), _event("a", 3)]) == [True, True, False]
    # the same event_id on another partition is a duplicate
    assert store.first_sightings([_event("a", 1, partition=1)]) == [False]
    # every mark sits in a hash that expires as a whole, at most two TTLs (and the skew margin) away
    found = list(redis_client.scan_iter(match=f"{keys.prefix}*"))
    assert found and all(redis_client.type(k) == b"hash" for k in found)
    assert all(0 < redis_client.ttl(k) <= 2 * 60 + 60 for k in found)


def test_an_event_id_is_remembered_for_exactly_the_ttl(redis_client: redis.Redis) -> None:
    now, clock = _clock(T0 + 30)  # the middle of a bucket
    store = DedupeStore(redis_client, Keys(f"it:{uuid.uuid4().hex[:8]}:"), ttl_s=100, clock=clock)
    assert store.first_sightings([_event("a", 1)]) == [True]
    now[0] += 99  # into the next bucket, one second short of the TTL: still a duplicate
    assert store.first_sightings([_event("a", 2)]) == [False]
    assert store.first_sightings([_event("a", 1)]) == [True]  # and the original is still the original
    now[0] += 2  # past the TTL: a copy now is processed again, and becomes the mark
    assert store.first_sightings([_event("a", 3)]) == [True]
    assert store.first_sightings([_event("a", 4)]) == [False]
    assert store.first_sightings([_event("a", 1)]) == [False]  # the old original is forgotten


def test_a_processor_whose_clock_runs_behind_still_sees_marks_near_a_bucket_boundary(
    redis_client: redis.Redis,
) -> None:
    keys = Keys(f"it:{uuid.uuid4().hex[:8]}:")
    ahead_now, ahead = _clock(T0 // 1000 * 1000 + 1000 + 5)  # just into a new bucket of 1000 s
    _, behind = _clock(ahead_now[0] - 20)  # 20 s behind: still in the previous bucket
    DedupeStore(redis_client, keys, ttl_s=1000, clock=ahead).first_sightings([_event("a", 1)])
    assert DedupeStore(redis_client, keys, ttl_s=1000, clock=behind).first_sightings([_event("a", 2)]) == [False]


def test_marks_are_listpack_fields_of_few_hashes(redis_client: redis.Redis) -> None:
    keys = Keys(f"it:{uuid.uuid4().hex[:8]}:")
    store = DedupeStore(redis_client, keys, ttl_s=3600, shards=16)
    events = [_event(f"evt-{i}", i) for i in range(2000)]
    assert store.first_sightings(events) == [True] * 2000
    assert store.first_sightings(events) == [True] * 2000  # replayed: all originals
    assert store.first_sightings([_event(f"evt-{i}", 5000 + i) for i in range(2000)]) == [False] * 2000
    found = list(redis_client.scan_iter(match=f"{keys.prefix}*"))
    assert len(found) == 16
    assert {redis_client.object("encoding", k) for k in found} == {b"listpack"}
    used = sum(redis_client.memory_usage(k, samples=0) or 0 for k in found)
    assert used / 2000 < 40  # a key per mark with its expiry took about 190 B


def test_empty_batch_makes_no_round_trip(redis_client: redis.Redis) -> None:
    store = DedupeStore(redis_client, Keys("it:none:"), ttl_s=60)
    assert store.first_sightings([]) == []
