"""Dedupe marks: was this event id first seen less than ``ttl_s`` ago, and at which input position?

A mark is a field of a hash, not a key of its own (a key with its expiry costs about 190 bytes of
Redis memory; a field of a small hash about 22). The event's dedupe identity is digested (BLAKE2b,
16 bytes): four bytes pick its shard (``shards`` of them), eight are its field. The value is ten
bytes: the first-sighting time (unsigned 32-bit seconds, big-endian) and a six-byte digest of the
input position (``topic:partition:offset``) that first carried it.

Hashes are per shard and per time bucket of length ``ttl_s``: a mark first seen in bucket ``b``
goes into hash ``(b, shard)``, which expires as a whole (``EXPIREAT``) at the end of bucket
``b + 1``, when every mark in it is older than the TTL. A lookup reads buckets ``b`` and ``b - 1``
(and ``b + 1`` near the end of a bucket, so a processor whose clock runs a little behind another's
still finds the marks that one wrote) and ignores a mark older than ``ttl_s``: an event id is
remembered for exactly ``ttl_s`` seconds, as with one key per mark; the memory of a mark is freed
between one and two TTLs after it was written. A hash keeps Redis' compact listpack encoding while
it holds at most ``hash-max-listpack-entries`` (512 by default) fields: size ``shards`` so that
the events of one TTL divided by the shards stay under that (docs/capacity.md). Past it the hash
is still correct, only about three times larger per mark.

If the mark found names this very input position, this is a replay of the original after a crash
(process it again); otherwise it is a duplicate. One script call per batch on a single Redis, one
per slot group (``processor.state.keys.GROUPS``) on Redis Cluster, all on one pipeline (one round
trip); copies inside one batch share a shard, so one call sees them in order and the first one wins.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import redis

from processor.messages import Event
from processor.replay_headers import dedupe_identity
from processor.state.keys import GROUPS, Keys, digest
from processor.state.redis_client import is_cluster

#: A processor's clock may run this far ahead of another's without a duplicate slipping through at
#: a bucket boundary.
_SKEW_S = 60
_KEY_INDEX = struct.Struct(">I")

# KEYS: per shard of the call, its bucket hashes, the one written first (then the previous bucket,
# and the next near a boundary). ARGV[1]: a mark first seen at or before this second is stale;
# ARGV[2]: EXPIREAT of a written hash; ARGV[3]: hashes per shard; ARGV[4]: the events, 22 bytes
# each: index in KEYS of its shard's first hash (uint32), field (8 bytes), mark (10 bytes). One
# packed argument instead of three per event: building the command was a large share of the cost.
# Returns per event 1 (first sighting or a replay of it) or 0 (a duplicate).
_CHECK = """
local stale, expire_at, per_shard, events = tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[3]), ARGV[4]
local out, written = {}, {}
for p = 1, #events, 22 do
  local k = struct.unpack('>I4', events, p)
  local field, mark = string.sub(events, p + 4, p + 11), string.sub(events, p + 12, p + 21)
  local found = false
  for j = k, k + per_shard - 1 do
    local v = redis.call('HGET', KEYS[j], field)
    if v and struct.unpack('>I4', v) > stale then
      found = v
      break
    end
  end
  if found then
    out[#out + 1] = (string.sub(found, 5) == string.sub(mark, 5)) and 1 or 0
  else
    redis.call('HSET', KEYS[k], field, mark)
    written[k] = true
    out[#out + 1] = 1
  end
end
for k in pairs(written) do redis.call('EXPIREAT', KEYS[k], expire_at) end
return out
"""


@dataclass(frozen=True, slots=True)
class QueuedSightings:
    """Where a batch's dedupe answers sit in the pipeline's results, and how to read them."""

    first: int  # index of the first dedupe call in the pipeline's results
    order: list[list[int]]  # per call: the batch indices of its events, in its order
    size: int

    def parse(self, results: list[Any]) -> list[bool]:
        out = [True] * self.size
        for call, indices in enumerate(self.order):
            for index, answer in zip(indices, results[self.first + call], strict=True):
                out[index] = answer == 1
        return out


class DedupeStore:
    def __init__(
        self,
        client: redis.Redis,
        keys: Keys,
        ttl_s: int,
        shards: int = 4_096,
        clock: Callable[[], float] = time.time,
        *,
        cluster: bool | None = None,
    ) -> None:
        self._client = client
        self._keys = keys
        self._ttl_s = ttl_s
        self._shards = shards
        self._clock = clock
        self._check = client.register_script(_CHECK)
        #: script calls per batch: one per slot group on Redis Cluster (a call's keys must share a
        #: slot), one in all on a single Redis (``cluster``: None asks the client which it is)
        self._calls = GROUPS if (is_cluster(client) if cluster is None else cluster) else 1

    def first_sightings(self, events: Sequence[Event]) -> list[bool]:
        """For each event, True when it is the first sighting of its event_id (or a replay of it)."""
        if not events:
            return []
        pipe: Any = self._client.pipeline(transaction=False)
        queued = self.queue(pipe, events)
        return queued.parse(pipe.execute())

    def queue(self, pipe: Any, events: Sequence[Event]) -> QueuedSightings:
        """Queue the batch's lookups and marks on a pipeline; returns the parser of its results."""
        now = int(self._clock())
        ttl = self._ttl_s
        bucket = now // ttl
        buckets = [bucket, bucket - 1]
        if now >= (bucket + 1) * ttl - _SKEW_S:
            buckets.append(bucket + 1)
        sighted = struct.pack(">I", now)
        # per group: shard -> index of its first key (1-based, as Lua counts), keys, packed events,
        # batch indices
        calls: dict[int, tuple[dict[int, int], list[str], list[bytes], list[int]]] = {}
        for index, event in enumerate(events):
            # a replayed quarantined event is keyed by its replay, not its event_id alone, so the mark
            # of its quarantined attempt does not drop it (processor/replay_headers.py)
            name = digest(dedupe_identity(event.event_id, event.raw.headers), size=12)
            shard = int.from_bytes(name[:4], "big") % self._shards
            first, keys, packed, order = calls.setdefault(shard % self._calls, ({}, [], [], []))
            k = first.get(shard)
            if k is None:
                k = first[shard] = len(keys) + 1
                keys += (self._keys.dedupe_bucket(shard, b) for b in buckets)
            packed.append(_KEY_INDEX.pack(k) + name[4:12] + sighted + digest(event.raw.position, size=6))
            order.append(index)
        start = len(pipe)
        pipe.scripts.add(self._check)  # the pipeline loads the script when Redis lacks it
        header = (now - ttl, (bucket + 2) * ttl + _SKEW_S, len(buckets))
        for _, keys, packed, _ in calls.values():
            pipe.execute_command("EVALSHA", self._check.sha, len(keys), *keys, *header, b"".join(packed))
        return QueuedSightings(start, [order for *_, order in calls.values()], len(events))
