"""Per-key history features in Redis: sorted sets, member = event id digest, score = event time.

A replayed event adds nothing (same member), and counts are taken over ``[t - window, t)``:
strictly earlier events only, so the answer for an event does not depend on whether it (or a
later event of the same batch) was already added by an aborted attempt. This is the serving half
of the contract in ``processor.model.features.base``; training uses the in-memory twin.

Memory: most entities (an IP, an uploader) are seen a few times, so a set is small and its key and
members are most of its cost. The key name is a digest of (event type, key field, value) and a
member the first 8 bytes of BLAKE2b of the event id (two events of one entity colliding would
undercount it by one, about once in 2^64 pairs).

Speed: one script call per slot group per batch (``processor.state.keys.GROUPS``), all on the
batch's pipeline. Counters of one event type that share a key field (sign-ups per IP over 1 h and
over 24 h) share one sorted set, counted with two ranges. For each of its keys the script adds
every member the batch brings, refreshes the expiry, trims what no window can count any more, and
answers every count the batch asks of that key. A call's keys share a hash tag, so it runs
unchanged on Redis Cluster.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import redis

from processor.messages import Event
from processor.model.features.base import FeatureModule, HistoryCounter, history_key_value
from processor.state.keys import Keys, digest

# Keys live at least this long after their last write, beyond the longest window they serve.
_EXPIRY_SLACK_S = 86_400

# KEYS: the sorted sets of one slot group. ARGV, per key in KEYS order: ttl_s, trim_below, n_adds,
# n_ranges, (member, score) * n_adds, (low, high) * n_ranges. Adds come first, so events of one
# batch see each other exactly as they would across batches; counts are ZCOUNT [low, high).
# Trimming keeps a set bounded: the caller passes the oldest event time of the batch for this key
# minus the window minus the retention slack, so no count of this batch is cut, nor a count of
# another partition (or processor) running up to the slack behind in event time, as partitions do
# while a backlog is caught up. Returns every count, key after key.
_APPLY = """
local out = {}
local i = 1
for _, key in ipairs(KEYS) do
  local ttl, trim, n, m = ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2]), tonumber(ARGV[i + 3])
  i = i + 4
  for _ = 1, n do
    redis.call('ZADD', key, ARGV[i + 1], ARGV[i])
    i = i + 2
  end
  if n > 0 then
    redis.call('EXPIRE', key, ttl)
    redis.call('ZREMRANGEBYSCORE', key, '-inf', '(' .. trim)
  end
  for _ = 1, m do
    out[#out + 1] = redis.call('ZCOUNT', key, ARGV[i], '(' .. ARGV[i + 1])
    i = i + 2
  end
end
return out
"""


@dataclass(slots=True)
class _KeyWork:
    """What one batch does to one sorted set."""

    window_ms: int  # the longest window counted on this key
    group: int  # its slot group
    adds: dict[bytes, int] = field(default_factory=dict)  # event id digest -> event time
    ranges: list[int] = field(default_factory=list)  # low, high, low, high, ...
    targets: list[tuple[int, str]] = field(default_factory=list)  # (event index, counter) per range


class EntityHistory:
    def __init__(self, client: redis.Redis, keys: Keys, retention_slack_ms: int) -> None:
        self._keys = keys
        self._slack_ms = retention_slack_ms
        self._apply = client.register_script(_APPLY)
        # per event type: counters grouped by key field, with the longest window of each group
        self._groups: dict[int, list[tuple[str, int, tuple[HistoryCounter, ...]]]] = {}

    def _grouped(self, module: FeatureModule) -> list[tuple[str, int, tuple[HistoryCounter, ...]]]:
        cached = self._groups.get(id(module))
        if cached is None:
            by_field: dict[str, list[HistoryCounter]] = {}
            for counter in module.HISTORY:
                by_field.setdefault(counter.key_field, []).append(counter)
            cached = [(f, max(c.window_ms for c in cs), tuple(cs)) for f, cs in by_field.items()]
            self._groups[id(module)] = cached
        return cached

    def queue(self, pipe: Any, events: Sequence[Event], modules: dict[str, FeatureModule]) -> QueuedCounts:
        """Queue the batch's adds and counts on a pipeline; returns the parser of its results."""
        work: dict[str, _KeyWork] = {}
        for index, event in enumerate(events):
            module = modules.get(event.event_type)
            if module is None:
                continue
            t = event.occurred_at
            member = digest(event.event_id, size=8)
            for key_field, window_ms, counters in self._grouped(module):
                key_value = history_key_value(event.record, counters[0])
                if key_value is None:
                    continue
                group, key = self._keys.history_in_group(event.event_type, key_field, key_value)
                item = work.get(key)
                if item is None:
                    item = work[key] = _KeyWork(window_ms, group)
                item.adds[member] = t
                for counter in counters:
                    item.ranges += (t - counter.window_ms, t)
                    item.targets.append((index, counter.name))
        first = len(pipe)
        if work:
            # what Script.__call__ does, once per batch instead of once per call: the pipeline
            # makes sure Redis has the script (SCRIPT EXISTS / LOAD) before it sends the batch
            pipe.scripts.add(self._apply)
        groups: dict[int, tuple[list[str], list[Any], list[tuple[int, str]]]] = {}
        for key, item in work.items():
            keys, args, targets = groups.setdefault(item.group, ([], [], []))
            keep_ms = item.window_ms + max(item.window_ms, self._slack_ms)
            keys.append(key)
            args += (keep_ms // 1000 + _EXPIRY_SLACK_S, min(item.adds.values()) - keep_ms)
            args += (len(item.adds), len(item.ranges) // 2)
            for member, score in item.adds.items():
                args += (member, score)
            args += item.ranges
            targets += item.targets
        for keys, args, _ in groups.values():
            pipe.execute_command("EVALSHA", self._apply.sha, len(keys), *keys, *args)
        return QueuedCounts(first, list(events), [targets for *_, targets in groups.values()], modules)


@dataclass(frozen=True, slots=True)
class QueuedCounts:
    """Where a batch's counts sit in the pipeline's results, and how to read them."""

    first: int  # index of the first history script in the pipeline's results
    events: list[Event]
    targets: list[list[tuple[int, str]]]  # per script call: (event index, counter name) per count
    modules: dict[str, FeatureModule]

    def parse(self, results: list[Any]) -> list[dict[str, int]]:
        zeros = {t: dict.fromkeys((c.name for c in m.HISTORY), 0) for t, m in self.modules.items()}
        out = [zeros[e.event_type].copy() if e.event_type in zeros else {} for e in self.events]
        for call, targets in enumerate(self.targets):
            for (index, name), count in zip(targets, results[self.first + call], strict=True):
                out[index][name] = int(count)
        return out
