"""Dedupe marks on a real Redis: first sighting wins, a replay of the same offset is the original."""

from __future__ import annotations

import uuid

import redis

from processor.messages import Event, RawMessage
from processor.state.dedupe import DedupeStore
from processor.state.keys import Keys


def _event(event_id: str, offset: int, partition: int = 0) -> Event:
    raw = RawMessage("raw", partition, offset, None, b"{}")
    return Event(raw, {}, event_id, "t", "e", 0, None, None, "json")


def test_first_sighting_wins_and_replays_are_originals(redis_client: redis.Redis) -> None:
    keys = Keys(f"it:{uuid.uuid4().hex[:8]}:")
    store = DedupeStore(redis_client, keys, ttl_s=60)
    assert store.first_sightings([_event("a", 1), _event("b", 2), _event("a", 3)]) == [True, True, False]
    # after a crash, Kafka replays offsets 1..3: the originals are still originals
    assert store.first_sightings([_event("a", 1), _event("b", 2), _event("a", 3)]) == [True, True, False]
    # the same event_id on another partition is a duplicate
    assert store.first_sightings([_event("a", 1, partition=1)]) == [False]
    ttl = redis_client.ttl(keys.dedupe("a"))
    assert 0 < ttl <= 60


def test_empty_batch_makes_no_round_trip(redis_client: redis.Redis) -> None:
    store = DedupeStore(redis_client, Keys("it:none:"), ttl_s=60)
    assert store.first_sightings([]) == []
