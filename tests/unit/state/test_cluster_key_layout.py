"""Redis Cluster readiness of what the state code actually sends (docs/design.md §4).

Every script call is recorded as it is queued or made, and its keys are mapped to slots with
the cluster's own rule: CRC16-XMODEM of the hash tag (or of the whole key) mod 16384, computed
here from the specification rather than with the client's helper. A script whose keys sit in
two slots would fail with CROSSSLOT on a cluster; dedupe marks and history sets are written by
one call per slot group per batch, whose keys share a slot, and the groups spread over the slots.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from processor.features.base import HistoryCounter
from processor.messages import Event, RawMessage
from processor.review.store import DoneRecord, ReviewStore
from processor.state.dedupe import DedupeStore
from processor.state.entity_history import EntityHistory
from processor.state.keys import GROUPS, Keys
from processor.state.reorder_store import BufferChange, ReorderStore

SLOTS = 16384


def _crc16_xmodem(data: bytes) -> int:
    crc = 0
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


def slot(key: str | bytes) -> int:
    """The Redis Cluster key slot: the hash tag ({...}, first '{' to the next '}', non-empty) or the key."""
    raw = key.encode() if isinstance(key, str) else key
    start = raw.find(b"{")
    if start >= 0:
        end = raw.find(b"}", start + 1)
        if end > start + 1:
            raw = raw[start + 1 : end]
    return _crc16_xmodem(raw) % SLOTS


def test_the_slot_function_matches_the_cluster_specification():
    assert _crc16_xmodem(b"123456789") == 0x31C3  # the check value the specification gives
    assert slot("foo") == 12182  # CLUSTER KEYSLOT foo
    assert slot("{user1000}.following") == slot("{user1000}.followers") == slot("user1000")
    assert slot("foo{}{bar}") == slot("foo{}{bar}")  # an empty tag: the whole key is hashed
    assert slot("foo{{bar}}zap") == slot("{bar")


class _Script:
    def __init__(self, recorder: _Recorder, text: str) -> None:
        self._recorder = recorder
        self.sha = f"sha-{len(recorder.scripts)}"
        self.script = text
        recorder.scripts[self.sha] = text

    def __call__(self, keys: list[str] | None = None, args: list[Any] | None = None, client: Any = None) -> Any:
        self._recorder.calls.append(("EVALSHA", self.sha, list(keys or [])))
        return self._recorder.reply(self.sha)


class _Pipe:
    def __init__(self, recorder: _Recorder) -> None:
        self._recorder = recorder
        self.scripts: set[Any] = set()
        self.queued: list[tuple[Any, ...]] = []

    def __len__(self) -> int:
        return len(self.queued)

    def execute_command(self, *args: Any, **_: Any) -> _Pipe:
        self.queued.append(args)
        if args[0] == "EVALSHA":
            numkeys = int(args[2])
            self._recorder.calls.append(("EVALSHA", args[1], [str(k) for k in args[3 : 3 + numkeys]]))
        else:
            self._recorder.calls.append((str(args[0]), None, [str(args[1])]))
        return self

    def execute(self, raise_on_error: bool = True) -> list[Any]:
        return [None] * len(self.queued)


class _Recorder:
    """Stands in for the client: records script calls and single-key pipeline commands."""

    def __init__(self) -> None:
        self.scripts: dict[str, str] = {}
        self.calls: list[tuple[str, str | None, list[str]]] = []
        self.gens = [b"2", b"1", b"0"]

    def register_script(self, text: str) -> _Script:
        return _Script(self, text)

    def pipeline(self, transaction: bool = False) -> _Pipe:
        return _Pipe(self)

    def hmget(self, key: str, fields: list[str]) -> list[bytes | None]:
        return [self.gens.pop(0) if self.gens else b"0", None]

    def reply(self, sha: str) -> Any:
        return [b"claimed", b""] if "claimed" in self.scripts[sha] else 1

    def zrem(self, *_: Any) -> int:
        return 1

    def script_calls(self) -> list[list[str]]:
        return [keys for name, _, keys in self.calls if name == "EVALSHA"]


def _event(event_id: str, ip: str, partition: int = 0, offset: int = 0) -> Event:
    raw = RawMessage(topic="events.raw", partition=partition, offset=offset, key=None, value=b"{}")
    record = {"event_id": event_id, "ip": ip, "entity_id": "u1"}
    return Event(
        raw=raw,
        record=record,
        event_id=event_id,
        event_type="signup",
        entity_id="u1",
        occurred_at=1_000_000,
        sequence=None,
        schema_version=None,
        encoding="json",
    )


class _Module:
    HISTORY = (
        HistoryCounter("signups_per_ip_1h", "ip", 3_600_000),
        HistoryCounter("signups_per_ip_24h", "ip", 86_400_000),
    )


PREFIXES = ["proc:", "tenant/{odd}:", ""]


@pytest.mark.parametrize("prefix", PREFIXES)
def test_every_reorder_script_keeps_its_keys_in_one_slot(prefix):
    client = _Recorder()
    store = ReorderStore(client, Keys(prefix))  # type: ignore[arg-type]
    pipe = client.pipeline()
    for topic in ("events.raw", "tenant.a.raw"):
        for partition in range(24):
            change = BufferChange(topic, partition, 4, 5, b"{}", {10: b"a", 11: b"b"}, [3], owner="p-1")
            store.queue_apply(pipe, change)
    store.reconcile("events.raw", 7, 0)  # walks back generations 2 and 1: two revert calls
    calls = client.script_calls()
    assert len(calls) == 2 * 24 + 2
    assert {len(keys) for keys in calls[:-2]} == {4} and {len(keys) for keys in calls[-2:]} == {3}
    for keys in calls:
        assert len({slot(k) for k in keys}) == 1, keys


@pytest.mark.parametrize("prefix", PREFIXES)
def test_every_review_script_keeps_its_keys_in_one_slot(prefix):
    client = _Recorder()
    store = ReviewStore(client, prefix)  # type: ignore[arg-type]
    for event_id in ("e-1", "{e}-2", "x}{y", "évé-4", "a" * 300):
        store.claim(event_id, "alice", 1_000)
        store.hold(event_id, "token", 1_000)
        store.release(event_id, "token")
        record = DoneRecord(event_id=event_id, decision="approve", label="legit", reviewer="alice", decided_at=1)
        store.finish("token", record)
    calls = client.script_calls()
    assert max(len(keys) for keys in calls) == 3
    for keys in calls:
        assert len({slot(k) for k in keys}) == 1, keys


def test_dedupe_calls_keep_their_keys_in_one_slot_and_spread_over_the_slots():
    client = _Recorder()
    DedupeStore(client, Keys("proc:"), ttl_s=60, cluster=True).queue(  # type: ignore[arg-type]
        client.pipeline(), [_event(f"evt-{i}", "203.0.113.7", offset=i) for i in range(3000)]
    )
    calls = client.script_calls()
    assert len(calls) <= GROUPS  # one call per slot group, not one command per mark
    assert sum(len(keys) for keys in calls) >= 3000  # hashes of the current and previous bucket per shard
    for keys in calls:
        assert len({slot(k) for k in keys}) == 1, keys
    _assert_spread_groups([keys[0] for keys in calls])


def test_history_calls_keep_their_keys_in_one_slot_and_spread_over_the_slots():
    client = _Recorder()
    history = EntityHistory(client, Keys("proc:"), retention_slack_ms=60_000, cluster=True)  # type: ignore[arg-type]
    pipe = client.pipeline()
    events = [_event(f"evt-{i}", f"198.51.{i // 256}.{i % 256}") for i in range(3000)]
    queued = history.queue(pipe, events, {"signup": _Module()})  # type: ignore[dict-item]
    calls = client.script_calls()
    assert len(calls) <= GROUPS
    # per IP: its shard's hash and its promoted set, of this bucket and the one before
    for keys in calls:
        assert len({slot(k) for k in keys}) == 1, keys
    _assert_spread_groups([keys[0] for keys in calls])
    assert sum(len(t) for t in queued.targets) == 2 * 3000


def _assert_spread_groups(firsts: list[str]) -> None:
    """Slot groups land all over the cluster: each in a slot of its own, and on each third of the
    slots (three masters of a freshly created cluster) about a third of them."""
    slots = [slot(k) for k in firsts]
    assert len(set(slots)) == len(slots) > GROUPS * 0.9
    thirds = Counter(s * 3 // SLOTS for s in slots)
    for third in range(3):
        assert abs(thirds[third] - len(slots) / 3) < len(slots) * 0.1, thirds


def test_on_a_single_redis_a_batch_is_one_call_each_with_the_same_key_names():
    events = [_event(f"evt-{i}", f"198.51.{i // 256}.{i % 256}", offset=i) for i in range(3000)]
    names = {}
    for cluster in (True, False):
        client = _Recorder()
        DedupeStore(client, Keys("proc:"), ttl_s=60, clock=lambda: 1_000.0, cluster=cluster).queue(  # type: ignore[arg-type]
            client.pipeline(), events
        )
        EntityHistory(client, Keys("proc:"), retention_slack_ms=60_000, cluster=cluster).queue(  # type: ignore[arg-type]
            client.pipeline(), events, {"signup": _Module()}
        )
        calls = client.script_calls()
        if not cluster:
            assert len(calls) == 2  # the dedupe call and the history call
        names[cluster] = {key for keys in calls for key in keys}
    assert names[True] == names[False]


def test_history_names_key_values_by_their_digest():
    from processor.state.keys import digest

    client = _Recorder()
    history = EntityHistory(client, Keys("proc:"), retention_slack_ms=60_000, cluster=False)  # type: ignore[arg-type]
    ips = ["198.51.0.1", "2001:db8::1", "évé"]
    history.queue(client.pipeline(), [_event(f"evt-{i}", ip) for i, ip in enumerate(ips)], {"signup": _Module()})  # type: ignore[dict-item]
    keys = {key for keys in client.script_calls() for key in keys}
    tag = Keys("proc:").history_tag("signup", "ip")
    for ip in ips:
        name = digest(tag, ip, size=12)
        shard = int.from_bytes(name[:4], "big") % 4_096
        bucket = 1_000_000 // (86_400_000 + 86_400_000)
        assert f"{Keys('proc:').history_bucket(tag, shard, bucket)}:z:{name.hex()}" in keys
