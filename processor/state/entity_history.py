"""Per-key history features in Redis: sorted sets, member = event_id, score = event time.

A replayed event adds nothing (same member), and counts are taken over ``[t - window, t)``:
strictly earlier events only, so the answer for an event does not depend on whether it (or a
later event of the same batch) was already added by an aborted attempt. This is the serving half
of the contract in ``processor.model.features.base``; training uses the in-memory twin.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from processor.messages import Event
from processor.model.features.base import FeatureModule, history_key_value
from processor.state.keys import Keys

# Keys live at least this long after their last write, beyond the longest window they serve.
_EXPIRY_SLACK_S = 86_400


class EntityHistory:
    def __init__(self, keys: Keys) -> None:
        self._keys = keys

    def queue(self, pipe: Any, events: Sequence[Event], modules: dict[str, FeatureModule]) -> QueuedCounts:
        """Queue the adds and counts for a batch on a pipeline; returns the parser of its results.

        All adds are queued before all counts, so events of one batch see each other exactly as
        they would have across batches.
        """
        plans: list[list[tuple[str, int]]] = []  # per event: (counter name, index of ZCOUNT result)
        counts: list[tuple[str, int, int]] = []
        adds = 0
        for event in events:
            module = modules.get(event.event_type)
            plan: list[tuple[str, int]] = []
            if module is not None:
                for counter in module.HISTORY:
                    key_value = history_key_value(event.record, counter)
                    if key_value is None:
                        continue
                    key = self._keys.history(event.event_type, counter.name, key_value)
                    pipe.zadd(key, {event.event_id: event.occurred_at})
                    pipe.expire(key, counter.window_ms // 1000 + _EXPIRY_SLACK_S)
                    # keep a set bounded: nothing older than two windows is ever counted again
                    pipe.zremrangebyscore(key, "-inf", f"({event.occurred_at - 2 * counter.window_ms}")
                    adds += 3
                    plan.append((counter.name, len(counts)))
                    counts.append((key, event.occurred_at - counter.window_ms, event.occurred_at))
            plans.append(plan)
        for key, low, high in counts:
            pipe.zcount(key, low, f"({high}")
        return QueuedCounts(first=adds, events=list(events), plans=plans, modules=modules)


@dataclass(frozen=True, slots=True)
class QueuedCounts:
    """Where a batch's counts sit in the pipeline's results, and how to read them."""

    first: int
    events: list[Event]
    plans: list[list[tuple[str, int]]]
    modules: dict[str, FeatureModule]

    @property
    def n_commands(self) -> int:
        return self.first + sum(len(p) for p in self.plans)

    def parse(self, results: list[Any]) -> list[dict[str, int]]:
        mine = results[self.first : self.n_commands]
        out = []
        for plan, event in zip(self.plans, self.events, strict=True):
            module = self.modules.get(event.event_type)
            values = {c.name: 0 for c in module.HISTORY} if module is not None else {}
            for name, index in plan:
                values[name] = int(mine[index])
            out.append(values)
        return out
