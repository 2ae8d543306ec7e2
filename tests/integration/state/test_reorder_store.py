"""The reorder buffer's Redis copy: generations apply, revert and reconcile on a real Redis."""

from __future__ import annotations

import uuid

import pytest
import redis

from processor.errors import StateError
from processor.state.keys import Keys
from processor.state.reorder_store import BufferChange, OwnershipLostError, ReorderStore, StateLostError


@pytest.fixture
def store(redis_client: redis.Redis) -> ReorderStore:
    return ReorderStore(redis_client, Keys(f"it:{uuid.uuid4().hex[:8]}:"))


def _apply(store: ReorderStore, client: redis.Redis, change: BufferChange) -> None:
    pipe = client.pipeline(transaction=False)
    store.queue_apply(pipe, change)
    pipe.execute()


def _change(
    expected: int, new: int, added: dict[int, bytes], removed: list[int], clocks: bytes = b"{}"
) -> BufferChange:
    return BufferChange("t", 0, expected, new, clocks, added, removed)


def test_apply_then_reconcile_to_committed_undoes_newer_generations(
    store: ReorderStore, redis_client: redis.Redis
) -> None:
    _apply(store, redis_client, _change(0, 1, {10: b"a", 11: b"b"}, [], b'{"x":[1,0]}'))
    _apply(store, redis_client, _change(1, 2, {12: b"c"}, [10], b'{"x":[2,1]}'))
    assert store.load("t", 0).items == {11: b"b", 12: b"c"}

    # generation 2's transaction never committed: Kafka says 1
    assert store.reconcile("t", 0, committed_generation=1) == 1
    state = store.load("t", 0)
    assert state.generation == 1
    assert state.items == {10: b"a", 11: b"b"}
    assert state.clocks == b'{"x":[1,0]}'


def test_reconcile_is_a_no_op_when_redis_matches_kafka(store: ReorderStore, redis_client: redis.Redis) -> None:
    _apply(store, redis_client, _change(0, 1, {1: b"a"}, []))
    assert store.reconcile("t", 0, committed_generation=1) == 0
    assert store.load("t", 0).items == {1: b"a"}


def test_first_generation_reverts_to_empty(store: ReorderStore, redis_client: redis.Redis) -> None:
    _apply(store, redis_client, _change(0, 1, {1: b"a"}, []))
    store.reconcile("t", 0, committed_generation=0)
    state = store.load("t", 0)
    assert (state.generation, state.items, state.clocks) == (0, {}, None)


def test_stale_writer_is_refused(store: ReorderStore, redis_client: redis.Redis) -> None:
    _apply(store, redis_client, _change(0, 1, {1: b"a"}, []))
    with pytest.raises(redis.ResponseError, match="GENERATION_CONFLICT"):
        _apply(store, redis_client, _change(0, 1, {2: b"zombie"}, []))
    assert store.load("t", 0).items == {1: b"a"}


def test_redis_behind_kafka_is_detected_as_lost_state(store: ReorderStore) -> None:
    with pytest.raises(StateLostError):
        store.reconcile("t", 0, committed_generation=5)


def test_missing_undo_record_is_an_error_not_a_guess(store: ReorderStore, redis_client: redis.Redis) -> None:
    _apply(store, redis_client, _change(0, 1, {1: b"a"}, []))
    _apply(store, redis_client, _change(1, 2, {2: b"b"}, []))
    redis_client.delete(store._keys.buffer_undo("t", 0, 2))
    with pytest.raises(StateError, match="cannot undo"):
        store.reconcile("t", 0, committed_generation=1)


def test_reset_starts_afresh_at_a_generation(store: ReorderStore, redis_client: redis.Redis) -> None:
    _apply(store, redis_client, _change(0, 1, {1: b"a"}, []))
    store.reset("t", 0, generation=7)
    state = store.load("t", 0)
    assert (state.generation, state.items) == (7, {})


def test_a_zombie_can_neither_write_nor_undo_after_another_owner_claimed(
    store: ReorderStore, redis_client: redis.Redis
) -> None:
    store.claim("t", 0, "zombie")
    _apply(store, redis_client, BufferChange("t", 0, 0, 1, b"{}", {1: b"a"}, [], owner="zombie"))
    # the partition moves while the zombie is paused: the new owner claims and undoes generation 1
    store.claim("t", 0, "heir")
    assert store.reconcile("t", 0, committed_generation=0, owner="heir") == 1
    # the zombie wakes up: its writes and its undo are refused
    with pytest.raises(redis.ResponseError, match="OWNER_CONFLICT"):
        _apply(store, redis_client, BufferChange("t", 0, 0, 1, b"{}", {2: b"zombie"}, [], owner="zombie"))
    with pytest.raises(OwnershipLostError):
        store.reconcile("t", 0, committed_generation=0, owner="zombie")
    _apply(store, redis_client, BufferChange("t", 0, 0, 1, b"{}", {3: b"heir"}, [], owner="heir"))
    assert store.load("t", 0).items == {3: b"heir"}
