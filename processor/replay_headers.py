"""The headers a replay adds to the event it sends back, and the dedupe identity they give it.

A replayed event has the same ``event_id`` as its quarantined attempt, and that attempt may
already hold the event's dedupe mark (quarantine by ``schema``, ``semantic`` or ``late`` happens
after dedupe). Deduplicating on ``event_id`` alone would drop the replay as a duplicate of the
attempt it is meant to fix. So a replayed event is deduplicated on ``event_id`` plus the
quarantine record it replays (``topic:partition:offset`` of that record): the replay is a first
sighting, and a second replay of the same quarantine record is a duplicate, dropped and counted.

A module of its own, not under quarantine/: the dedupe state reads it, and state never imports
quarantine (docs/design.md §10).
"""

from __future__ import annotations

from processor.messages import Headers

#: ``topic:partition:offset`` of the quarantine record this event replays: the replay's identity.
REPLAY_OF = "processor-replay-of"
#: ``topic:partition:offset`` of the original input the quarantine record answered.
REPLAY_SOURCE = "processor-replay-source"
REPLAYED_AT = "processor-replayed-at"  # epoch ms
REPLAYED_BY = "processor-replayed-by"
REPLAY_REASON = "processor-replay-reason"  # stage/error_code of the quarantine it replays

REPLAY_HEADERS = frozenset({REPLAY_OF, REPLAY_SOURCE, REPLAYED_AT, REPLAYED_BY, REPLAY_REASON})


def replay_of(headers: Headers) -> str | None:
    """The quarantine record a consumed event replays, or None for an ordinary event."""
    for name, value in headers:
        if name == REPLAY_OF and value:
            return value.decode("utf-8", errors="replace")
    return None


def dedupe_identity(event_id: str, headers: Headers) -> str:
    """What the dedupe stage treats as "the same event": the id, qualified by the replay it belongs to."""
    if not headers:  # the common case: no header scan at all
        return event_id
    replayed = replay_of(headers)
    return event_id if replayed is None else f"{event_id}|replay:{replayed}"


def without_replay_headers(headers: Headers) -> Headers:
    """The original headers, minus those of an earlier replay (a re-replay records only itself)."""
    return tuple((name, value) for name, value in headers if name not in REPLAY_HEADERS)
