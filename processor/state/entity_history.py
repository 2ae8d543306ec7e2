"""Per-key history features in Redis: for each (event type, key field, value), the event times
and event id digests of its events, counted over windows.

A replayed event adds nothing (same event id digest), and counts are taken over ``[t - window, t)``:
strictly earlier events only, so the answer for an event does not depend on whether it (or a
later event of the same batch) was already added by an aborted attempt. This is the serving half
of the contract in ``processor.features.base``; training uses the in-memory twin.

Layout, for memory: most keys (an IP, an uploader) see a few events, so a key of their own (about
150 bytes with its expiry, before any entry) would cost more than their entries. Instead:

- Event time is cut into buckets of ``keep`` (the longest window on the field plus
  ``max(window, retention slack)``). An event is added to its own bucket; a count reads its bucket
  and the one before, which together cover any window (a window is at most half of ``keep``).
- Per (type, field, bucket) there are ``shards`` hashes. A key value's digest picks the hash and
  names the field; the field holds up to ``_INLINE`` entries packed as 12 bytes each (6-byte event
  time in ms, 6-byte digest of the event id), which keeps the hash in Redis' listpack encoding
  (values up to 64 bytes). A busier key is *promoted*: its entries move to a sorted set of its own
  (member = the digest, score = the time) and the field is left empty as the marker.
- Every hash and set written gets its expiry refreshed (``keep`` + a day of wall-clock time), so a
  bucket no one writes any more disappears as a whole; nothing is trimmed entry by entry.

Speed: one script call per batch on a single Redis, one per slot group
(``processor.state.keys.GROUPS``) on Redis Cluster, whose keys share a hash tag; all on the
batch's pipeline. The key names are the same either way. Counters
of one event type that share a key field (sign-ups per IP over 1 h and over 24 h) share entries,
counted with two ranges.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from hashlib import blake2b
from typing import Any

import numpy as np
import numpy.typing as npt
import redis

from processor.features.base import FeatureModule, HistoryCounter
from processor.messages import Event
from processor.state.keys import GROUPS, Keys
from processor.state.redis_client import is_cluster

# Keys live at least this long after their last write, beyond the longest window they serve.
_EXPIRY_SLACK_S = 86_400
#: Entries a hash field holds before its key is promoted to a sorted set (5 x 12 bytes <= 64).
_INLINE = 5
_ITEM = struct.Struct(">4I8s3I")
_TIME = struct.Struct(">q")

# KEYS: the hashes and promoted sets of one slot group. ARGV[1]: _INLINE. ARGV[2]: the items (one
# key value in one bucket), packed (one argument instead of dozens per event: building the command
# was a large share of the cost): per item its bucket's hash, promoted set, the previous bucket's
# hash and promoted set (uint32 indices into KEYS), the field (8 bytes), the expiry in s (uint32),
# n_adds and n_ranges (uint32), then n_adds x (member 6 bytes, time int64) and n_ranges x (low,
# high int64). Every item's adds come before any count, so events of one batch see each other
# exactly as they would across batches. Returns every count, item after item.
_APPLY = """
local inline = tonumber(ARGV[1])
local blob = ARGV[2]
local TWO32 = 4294967296
local function time_at(v, p)
  local hi, lo = struct.unpack('>I2I4', v, p)
  return hi * TWO32 + lo
end
local function entry(member, t)
  return struct.pack('>I2I4', math.floor(t / TWO32), t % TWO32) .. member
end
local function count(v, zkey, low, high)
  if not v then return 0 end
  if v == '' then return redis.call('ZCOUNT', zkey, low, '(' .. high) end
  local n = 0
  for p = 1, #v, 12 do
    local t = time_at(v, p)
    if t >= low and t < high then n = n + 1 end
  end
  return n
end
local items, p = {}, 1
while p <= #blob do
  local h, z, ph, pz, q = struct.unpack('>I4I4I4I4', blob, p)
  local f = string.sub(blob, q, q + 7)
  local ttl, n, m, at = struct.unpack('>I4I4I4', blob, q + 8)
  items[#items + 1] = {h = KEYS[h], z = KEYS[z], ph = KEYS[ph], pz = KEYS[pz], f = f, ttl = ttl, n = n, m = m, at = at}
  p = at + 14 * n + 16 * m
end
local expiring = {}
for _, it in ipairs(items) do
  if it.n > 0 then
    local v = redis.call('HGET', it.h, it.f) or false
    if v == '' then
      for a = it.at, it.at + 14 * (it.n - 1), 14 do
        redis.call('ZADD', it.z, struct.unpack('>i8', blob, a + 6), string.sub(blob, a, a + 5))
      end
      expiring[it.z] = it.ttl
    else
      local packed = v or ''
      local have = {}
      for p = 1, #packed, 12 do have[string.sub(packed, p + 6, p + 11)] = true end
      local parts = {packed}
      local size = #packed / 12
      for a = it.at, it.at + 14 * (it.n - 1), 14 do
        local member = string.sub(blob, a, a + 5)
        if not have[member] then
          have[member] = true
          parts[#parts + 1] = entry(member, struct.unpack('>i8', blob, a + 6))
          size = size + 1
        end
      end
      packed = table.concat(parts)
      if size > inline then
        for p = 1, #packed, 12 do redis.call('ZADD', it.z, time_at(packed, p), string.sub(packed, p + 6, p + 11)) end
        expiring[it.z] = it.ttl
        packed = ''
      end
      redis.call('HSET', it.h, it.f, packed)
    end
    expiring[it.h] = it.ttl
  end
end
for key, ttl in pairs(expiring) do redis.call('EXPIRE', key, ttl) end
local out = {}
for _, it in ipairs(items) do
  if it.m > 0 then
    local v = redis.call('HGET', it.h, it.f) or false
    local pv = redis.call('HGET', it.ph, it.f) or false
    local from = it.at + 14 * it.n
    for r = from, from + 16 * (it.m - 1), 16 do
      local low, high = struct.unpack('>i8i8', blob, r)
      out[#out + 1] = count(v, it.z, low, high) + count(pv, it.pz, low, high)
    end
  end
end
return out
"""


@dataclass(slots=True)
class _Item:
    """What one batch does to one key value in one bucket."""

    keys: tuple[str, str, str, str]  # bucket hash, promoted set, previous bucket's hash and set
    hash_field: bytes
    ttl_s: int
    adds: dict[bytes, int] = field(default_factory=dict)  # event id digest -> event time
    ranges: list[int] = field(default_factory=list)  # low, high, low, high, ...
    targets: list[int] = field(default_factory=list)  # per range: counter id x events + event index


@dataclass(frozen=True, slots=True)
class _Group:
    """Counters of one event type on one key field."""

    tag: str  # short name of (event type, key field) in the keys
    keep_ms: int  # bucket length: the longest window plus max(window, slack)
    counters: tuple[HistoryCounter, ...]


class EntityHistory:
    def __init__(
        self,
        client: redis.Redis,
        keys: Keys,
        retention_slack_ms: int,
        shards: int = 4_096,
        *,
        cluster: bool | None = None,
    ) -> None:
        self._keys = keys
        self._slack_ms = retention_slack_ms
        self._shards = shards
        self._apply = client.register_script(_APPLY)
        #: script calls per batch: one per slot group on Redis Cluster (a call's keys must share a
        #: slot), one in all on a single Redis (``cluster``: None asks the client which it is)
        self._calls = GROUPS if (is_cluster(client) if cluster is None else cluster) else 1
        # per event type: counters grouped by key field
        self._groups: dict[int, list[_Group]] = {}

    def _grouped(self, event_type: str, module: FeatureModule) -> list[_Group]:
        cached = self._groups.get(id(module))
        if cached is None:
            by_field: dict[str, list[HistoryCounter]] = {}
            for counter in module.HISTORY:
                by_field.setdefault(counter.key_field, []).append(counter)
            cached = []
            for key_field, counters in by_field.items():
                window = max(c.window_ms for c in counters)
                tag = self._keys.history_tag(event_type, key_field)
                cached.append(_Group(tag, window + max(window, self._slack_ms, 1), tuple(counters)))
            self._groups[id(module)] = cached
        return cached

    def queue(self, pipe: Any, events: Sequence[Event], modules: dict[str, FeatureModule]) -> QueuedCounts:
        """Queue the batch's adds and counts on a pipeline; returns the parser of its results."""
        work: dict[tuple[str, int, bytes], _Item] = {}
        # each count lands at (counter id) x (events) + (event index) of one flat array (``QueuedCounts``)
        counter_ids: dict[str, int] = {}
        for described in modules.values():
            for counter in described.HISTORY:
                counter_ids.setdefault(counter.name, len(counter_ids))
        n_events = len(events)
        # per event type: (group, its tag, bucket length, key field, expiry, [(count slot base, window)])
        plans = {
            event_type: [
                (
                    group,
                    group.keep_ms,
                    group.counters[0].key_field,
                    group.keep_ms // 1000 + _EXPIRY_SLACK_S,
                    [(counter_ids[c.name] * n_events, c.window_ms) for c in group.counters],
                )
                for group in self._grouped(event_type, module)
            ]
            for event_type, module in modules.items()
        }
        bucket_keys: dict[tuple[str, int, int], tuple[str, str]] = {}  # this bucket's hash, the previous one's
        calls: dict[int, list[_Item]] = {}
        promoted = Keys.promoted_beside
        for index, event in enumerate(events):
            plan = plans.get(event.event_type)
            if not plan:
                continue
            t = event.occurred_at
            record = event.record
            member = blake2b(event.event_id.encode(), digest_size=6).digest()  # digest(event_id, size=6)
            for group, keep_ms, key_field, ttl_s, counted in plan:
                value = record.get(key_field)  # history_key_value, inlined: this runs per event and group
                if value is None or value == "":
                    continue
                bucket = t // keep_ms
                name = blake2b(f"{group.tag}\0{value!s}".encode(), digest_size=12).digest()  # digest(tag, value)
                item = work.get((group.tag, bucket, name))
                if item is None:
                    shard = int.from_bytes(name[:4], "big") % self._shards
                    hashes = bucket_keys.get((group.tag, shard, bucket))
                    if hashes is None:
                        hashes = bucket_keys[(group.tag, shard, bucket)] = (
                            self._keys.history_bucket(group.tag, shard, bucket),
                            self._keys.history_bucket(group.tag, shard, bucket - 1),
                        )
                    item = work[(group.tag, bucket, name)] = _Item(
                        (hashes[0], promoted(hashes[0], name), hashes[1], promoted(hashes[1], name)),
                        name[4:],
                        ttl_s,
                    )
                    calls.setdefault(shard % self._calls, []).append(item)
                item.adds[member] = t
                for base, window_ms in counted:
                    item.ranges += (t - window_ms, t)
                    item.targets.append(base + index)
        first = len(pipe)
        if calls:
            # what Script.__call__ does, once per batch instead of once per call: the pipeline
            # makes sure Redis has the script (SCRIPT EXISTS / LOAD) before it sends the batch
            pipe.scripts.add(self._apply)
        targets: list[list[int]] = []
        for items in calls.values():
            keys: dict[str, int] = {}
            packed: list[bytes] = []
            call_targets: list[int] = []
            for item in items:
                h_key, z_key, ph_key, pz_key = item.keys
                h = keys.setdefault(h_key, len(keys) + 1)
                z = keys.setdefault(z_key, len(keys) + 1)
                ph = keys.setdefault(ph_key, len(keys) + 1)
                pz = keys.setdefault(pz_key, len(keys) + 1)
                n, m = len(item.adds), len(item.ranges) // 2
                packed.append(_ITEM.pack(h, z, ph, pz, item.hash_field, item.ttl_s, n, m))
                packed += (member + _TIME.pack(t) for member, t in item.adds.items())
                packed.append(struct.pack(f">{2 * m}q", *item.ranges))
                call_targets += item.targets
            pipe.execute_command("EVALSHA", self._apply.sha, len(keys), *keys, _INLINE, b"".join(packed))
            targets.append(call_targets)
        return QueuedCounts(first, list(events), targets, modules, counter_ids)


@dataclass(frozen=True, slots=True)
class QueuedCounts:
    """Where a batch's counts sit in the pipeline's results, and how to read them."""

    first: int  # index of the first history script in the pipeline's results
    events: list[Event]
    targets: list[list[int]]  # per script call, per count: counter id x len(events) + event index
    modules: dict[str, FeatureModule]
    counter_ids: dict[str, int]  # counter name -> id

    def arrays(self, results: list[Any]) -> dict[str, npt.NDArray[np.int64]]:
        """Per counter name, the count of every event of the batch (0 for events it does not describe)."""
        n = len(self.events)
        flat = np.zeros(len(self.counter_ids) * n, dtype=np.int64)
        for call, targets in enumerate(self.targets):
            counts = results[self.first + call]
            if len(counts) != len(targets):
                raise ValueError(f"history script returned {len(counts)} counts for {len(targets)} ranges")
            if targets:
                flat[np.asarray(targets, dtype=np.intp)] = np.asarray(counts, dtype=np.int64)
        return {name: flat[i * n : (i + 1) * n] for name, i in self.counter_ids.items()}

    def parse(self, results: list[Any]) -> list[dict[str, int]]:
        """The counts of each event by counter name (its type's counters only)."""
        arrays = {name: column.tolist() for name, column in self.arrays(results).items()}
        names = {t: [c.name for c in m.HISTORY] for t, m in self.modules.items()}
        return [
            {name: arrays[name][i] for name in names[e.event_type]} if e.event_type in names else {}
            for i, e in enumerate(self.events)
        ]
