"""History counters on a real Redis answer exactly what the training twin (in memory) answers."""

from __future__ import annotations

import random
import uuid
from collections import Counter

import redis

from processor.features.base import load_feature_module
from processor.features.history import InMemoryHistory
from processor.messages import Event, RawMessage
from processor.state.entity_history import EntityHistory
from processor.state.keys import Keys

_MINUTE_MS = 60_000
_HOUR_MS = 60 * _MINUTE_MS
_SLACK_MS = 2 * _HOUR_MS


def _signup(i: int, ip: str, country: str, t: int) -> Event:
    record = {"ip_address": ip, "country": country}
    return Event(
        RawMessage("raw", 0, i, None, b"{}"), record, f"e{i}", "user_signed_up", f"u{i}", t, None, None, "json"
    )


def _answers(history: EntityHistory, client: redis.Redis, batch: list[Event], modules: dict) -> list[dict[str, int]]:
    pipe = client.pipeline(transaction=False)
    queued = history.queue(pipe, batch, modules)
    return queued.parse(pipe.execute())


def test_redis_counts_match_the_in_memory_twin_batch_by_batch_and_on_replay(redis_client: redis.Redis) -> None:
    modules = {"user_signed_up": load_feature_module("user_signed_up")}
    keys = Keys(f"it:{uuid.uuid4().hex[:8]}:")
    history = EntityHistory(redis_client, keys, retention_slack_ms=_SLACK_MS)
    rng = random.Random(7)
    t0 = 1_700_000_000_000
    # a few busy IPs and countries over ~30 hours, so the 1 h and 24 h windows both matter
    events = [
        _signup(i, f"198.51.100.{rng.randrange(4)}", rng.choice(["DE", "FR", "US"]), t0 + i * 11 * _MINUTE_MS)
        for i in range(170)
    ]
    twin = InMemoryHistory(modules)
    for start in range(0, len(events), 25):
        batch = events[start : start + 25]
        # the twin's view: every event of the batch is added before any is counted, as in Redis
        for e in batch:
            twin.add(e.event_type, e.event_id, e.record, e.occurred_at)
        expected = [twin.counts(e.event_type, e.record, e.occurred_at) for e in batch]
        assert _answers(history, redis_client, batch, modules) == expected
        # an aborted attempt replayed (same event ids) gets the same answers and adds nothing
        assert _answers(history, redis_client, batch, modules) == expected
    assert any(c["signups_same_ip_24h"] > c["signups_same_ip_1h"] > 0 for c in expected)

    # storage: hashes of packed entries, the four busy IPs promoted to sorted sets of their own; all
    # of it expires (the longest window plus max(window, slack), plus a day, after the last write)
    found = list(redis_client.scan_iter(match=f"{keys.prefix}*"))
    types = Counter(redis_client.type(k) for k in found)
    assert set(types) == {b"hash", b"zset"}
    assert types[b"zset"] >= 4
    assert all(86_400 < redis_client.ttl(k) <= 3 * 86_400 for k in found)
    assert {redis_client.object("encoding", k) for k in found} == {b"listpack"}


def test_many_quiet_keys_cost_a_few_bytes_each(redis_client: redis.Redis) -> None:
    """Most keys see one event: their entries are fields of shared hashes, not keys of their own."""
    modules = {"user_signed_up": load_feature_module("user_signed_up")}
    keys = Keys(f"it:{uuid.uuid4().hex[:8]}:")
    history = EntityHistory(redis_client, keys, retention_slack_ms=_SLACK_MS, shards=16)
    t0 = 1_700_000_000_000
    events = [_signup(i, f"10.{i // 65536}.{i // 256 % 256}.{i % 256}", "DE", t0 + i * 100) for i in range(3000)]
    for start in range(0, len(events), 500):
        _answers(history, redis_client, events[start : start + 500], modules)
    hashes = [k for k in redis_client.scan_iter(match=f"{keys.prefix}*") if redis_client.type(k) == b"hash"]
    used = sum(redis_client.memory_usage(k, samples=0) or 0 for k in hashes)
    assert used / len(events) < 40  # a sorted set per IP took about 150 B before its entry
    # the one country is busy: promoted, and counted exactly
    last = _answers(history, redis_client, [_signup(9999, "10.99.99.99", "DE", t0 + 3000 * 100)], modules)
    assert last[0]["signups_same_country_1h"] == 3000
    assert last[0]["signups_same_ip_24h"] == 0


def test_events_without_a_key_value_count_zero_and_touch_nothing(redis_client: redis.Redis) -> None:
    modules = {"user_signed_up": load_feature_module("user_signed_up")}
    keys = Keys(f"it:{uuid.uuid4().hex[:8]}:")
    history = EntityHistory(redis_client, keys, retention_slack_ms=_SLACK_MS)
    event = _signup(1, "", "", 1_700_000_000_000)
    assert _answers(history, redis_client, [event], modules) == [
        {"signups_same_ip_1h": 0, "signups_same_ip_24h": 0, "signups_same_country_1h": 0}
    ]
    assert list(redis_client.scan_iter(match=f"{keys.prefix}*")) == []


def test_a_partition_running_hours_behind_still_counts_exactly(redis_client: redis.Redis) -> None:
    """Catching up a backlog, one partition's batch is hours ahead of another's in event time:
    the leading batch's trim must not cut what the lagging one counts (within the slack)."""
    modules = {"user_signed_up": load_feature_module("user_signed_up")}
    history = EntityHistory(redis_client, Keys(f"it:{uuid.uuid4().hex[:8]}:"), retention_slack_ms=6 * _HOUR_MS)
    t0 = 1_700_000_000_000
    lagging = [_signup(i, f"203.0.113.{i}", "DE", t0 + i * _MINUTE_MS) for i in range(40)]
    leading = [_signup(100 + i, f"192.0.2.{i}", "DE", t0 + 4 * _HOUR_MS + i * _MINUTE_MS) for i in range(40)]
    twin = InMemoryHistory(modules)
    for batch in (lagging[:20], leading, lagging[20:]):
        for e in batch:
            twin.add(e.event_type, e.event_id, e.record, e.occurred_at)
        expected = [twin.counts(e.event_type, e.record, e.occurred_at) for e in batch]
        assert _answers(history, redis_client, batch, modules) == expected
    assert expected[-1]["signups_same_country_1h"] == 39  # the lagging partition's own hour, intact
