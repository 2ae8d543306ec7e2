"""Dedupe marks: ``event_id -> topic:partition:offset`` of the first sighting, SET NX with a TTL.

One pipeline per batch. ``SET ... NX GET`` returns the existing mark when there is one: if it
names this very input position, this is a replay of the original after a crash (process it
again); otherwise it is a duplicate. Copies inside one batch resolve in order, because the
pipeline runs the commands in order.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import redis

from processor.messages import Event
from processor.replay_headers import dedupe_identity
from processor.state.keys import Keys


class DedupeStore:
    def __init__(self, client: redis.Redis, keys: Keys, ttl_s: int) -> None:
        self._client = client
        self._keys = keys
        self._ttl_s = ttl_s

    def first_sightings(self, events: Sequence[Event]) -> list[bool]:
        """For each event, True when it is the first sighting of its event_id (or a replay of it)."""
        if not events:
            return []
        pipe: Any = self._client.pipeline(transaction=False)
        marks = []
        for event in events:
            mark = event.raw.position.encode()
            marks.append(mark)
            # a replayed quarantined event is keyed by its replay, not its event_id alone, so the mark
            # of its quarantined attempt does not drop it (processor/replay_headers.py)
            identity = dedupe_identity(event.event_id, event.raw.headers)
            # the raw command: redis-py's ``set()`` wrapper costs more than the round trip here
            pipe.execute_command("SET", self._keys.dedupe(identity), mark, "NX", "GET", "EX", self._ttl_s, get=True)
        results = pipe.execute()
        return [previous is None or previous == mark for previous, mark in zip(results, marks, strict=True)]
