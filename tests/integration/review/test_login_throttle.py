"""Failed sign-ins are counted in Redis: every replica sees them, and they expire with the window."""

from __future__ import annotations

import time
import uuid

import redis

from processor.review.security import LoginThrottle
from processor.review.store import ReviewStore

# a database of its own: the key-count check scans it, and database 0 may hold millions of keys
# that a benchmark left behind
_OWN_DATABASE = 14


def _client(redis_client: redis.Redis) -> redis.Redis:
    pool = redis_client.connection_pool.connection_kwargs
    return redis.Redis(host=pool["host"], port=pool["port"], db=_OWN_DATABASE)


def _replicas(redis_client: redis.Redis, window_s: int = 60) -> tuple[LoginThrottle, LoginThrottle, str]:
    """Two replicas' throttles: their own Redis connections, one key prefix."""
    prefix = f"it:{uuid.uuid4().hex[:10]}:"
    return (
        LoginThrottle(ReviewStore(_client(redis_client), prefix), max_failures=3, window_s=window_s),
        LoginThrottle(ReviewStore(_client(redis_client), prefix), max_failures=3, window_s=window_s),
        prefix,
    )


def test_failures_on_one_replica_lock_the_name_on_another(redis_client: redis.Redis) -> None:
    first, second, _ = _replicas(redis_client)
    for throttle in (first, second, first):
        assert not second.locked("alice")
        throttle.failed("alice")
    assert first.locked("alice") and second.locked("alice")
    assert not first.locked("bob")
    second.succeeded("alice")  # a correct password, on any replica, clears the count
    assert not first.locked("alice")


def test_failures_expire_with_the_window(redis_client: redis.Redis) -> None:
    first, second, _ = _replicas(redis_client, window_s=1)
    for _ in range(3):
        first.failed("alice")
    assert second.locked("alice")
    time.sleep(1.2)
    assert not second.locked("alice")


def test_a_huge_typed_name_costs_one_short_key(redis_client: redis.Redis) -> None:
    first, _, prefix = _replicas(redis_client)
    name = "x" * 100_000
    for _ in range(3):
        first.failed(name)
    assert first.locked(name)
    own = _client(redis_client)
    keys = list(own.scan_iter(match=f"{prefix}*"))
    assert len(keys) == 1 and len(keys[0]) < 100
    assert 0 < own.ttl(keys[0]) <= 60
