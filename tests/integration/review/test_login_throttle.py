"""Sign-in attempts are counted in Redis before any password check: every replica sees them, parallel
attempts each get their own count, and the counts expire with the window."""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor

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

    def throttle() -> LoginThrottle:
        store = ReviewStore(_client(redis_client), prefix)
        return LoginThrottle(store, 3, window_s, max_per_address=10, max_per_name=6)

    return throttle(), throttle(), prefix


def test_attempts_on_one_replica_count_on_another(redis_client: redis.Redis) -> None:
    first, second, _ = _replicas(redis_client)
    for throttle in (first, second, first):
        assert throttle.attempt("alice", "10.0.0.1").allowed
    assert second.attempt("alice", "10.0.0.1").limit == "name_address"
    assert first.attempt("bob", "10.0.0.1").allowed
    # typing alice's name from one address does not lock her out elsewhere
    assert first.attempt("alice", "10.0.0.2").allowed
    second.succeeded("alice", "10.0.0.1")  # a correct password, on any replica, clears the name's count
    assert first.attempt("alice", "10.0.0.1").allowed


def test_one_address_guessing_many_names_and_many_addresses_one_name_are_stopped(redis_client: redis.Redis) -> None:
    throttle, _, _ = _replicas(redis_client)
    verdicts = [throttle.attempt(f"user-{i}", "10.0.0.9") for i in range(11)]
    assert all(v.allowed for v in verdicts[:10]) and verdicts[10].limit == "address"
    spread = [throttle.attempt("carol", f"10.1.0.{i}") for i in range(7)]
    assert all(v.allowed for v in spread[:6]) and spread[6].limit == "name"


def test_parallel_attempts_each_get_their_own_count(redis_client: redis.Redis) -> None:
    throttle, _, _ = _replicas(redis_client)
    with ThreadPoolExecutor(max_workers=20) as pool:
        verdicts = list(pool.map(lambda _: throttle.attempt("alice", "10.0.0.1"), range(40)))
    assert sum(v.allowed for v in verdicts) == 3


def test_attempts_expire_with_the_window(redis_client: redis.Redis) -> None:
    first, second, _ = _replicas(redis_client, window_s=1)
    for _ in range(3):
        first.attempt("alice", "10.0.0.1")
    assert not second.attempt("alice", "10.0.0.1").allowed
    time.sleep(2.1)
    assert second.attempt("alice", "10.0.0.1").allowed


def test_a_huge_typed_name_costs_short_keys(redis_client: redis.Redis) -> None:
    first, _, prefix = _replicas(redis_client)
    name = "x" * 100_000
    for _ in range(4):
        first.attempt(name, "10.0.0.1")
    assert not first.attempt(name, "10.0.0.1").allowed
    own = _client(redis_client)
    keys = list(own.scan_iter(match=f"{{{prefix}*"))
    assert len(keys) == 3 and all(len(k) < 120 for k in keys)
    assert all(0 < own.ttl(k) <= 60 for k in keys)
