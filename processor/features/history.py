"""History counters in memory: the training twin of ``processor.state.entity_history`` (Redis).

Both answer the same question for each counter of an event type's feature module: how many
events with the same key value (``history_key_value``) have an event time in ``[t - window, t)``,
strictly earlier than the event being described. Serving keeps a Redis sorted set per key (member
``event_id``, score event time) and runs ``ZCOUNT key <t - window> (<t>`` (inclusive left, exclusive
right); here each key holds a sorted list of event times and two bisections give the same count.

Because the count excludes the event's own time, the result does not depend on whether the event
(or another event with the same timestamp) was already added, and re-adding an ``event_id`` is a
no-op, exactly as a replayed ``ZADD`` of the same member is in Redis. Training feeds events in
event-time order and asks for counts before adding each event, so no feature looks ahead.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Mapping
from typing import Any

from processor.features.base import FeatureModule, history_key_value


class InMemoryHistory:
    """Per-(event type, counter, key value) sorted event times, plus the event ids already added.

    Nothing is evicted: one training run holds its whole history (a few bytes per event and
    counter), which keeps the semantics simple and exact for any window.
    """

    def __init__(self, modules: Mapping[str, FeatureModule]) -> None:
        self._modules = dict(modules)
        self._times: dict[tuple[str, str, str], list[int]] = {}
        self._seen: set[tuple[str, str]] = set()

    def counts(self, event_type: str, record: Mapping[str, Any], occurred_at: int) -> dict[str, int]:
        """Counts by counter name over ``[occurred_at - window, occurred_at)``; 0 when the key is empty.

        Event types without a feature module get ``{}``, as the serving side does.
        """
        module = self._modules.get(event_type)
        if module is None:
            return {}
        out: dict[str, int] = {}
        for counter in module.HISTORY:
            key_value = history_key_value(record, counter)
            times = None if key_value is None else self._times.get((event_type, counter.name, key_value))
            if not times:
                out[counter.name] = 0
                continue
            low = bisect_left(times, occurred_at - counter.window_ms)
            high = bisect_left(times, occurred_at, lo=low)
            out[counter.name] = high - low
        return out

    def add(self, event_type: str, event_id: str, record: Mapping[str, Any], occurred_at: int) -> bool:
        """Record one event under each of its counters' keys; False (and no change) for a seen id."""
        module = self._modules.get(event_type)
        if module is None:
            return False
        seen_key = (event_type, event_id)
        if seen_key in self._seen:
            return False
        self._seen.add(seen_key)
        for counter in module.HISTORY:
            key_value = history_key_value(record, counter)
            if key_value is None:
                continue
            times = self._times.setdefault((event_type, counter.name, key_value), [])
            if not times or times[-1] <= occurred_at:
                times.append(occurred_at)  # the common case in training: events arrive in time order
            else:
                insort(times, occurred_at)
        return True

    def __len__(self) -> int:
        """Number of distinct events added."""
        return len(self._seen)
