"""The gateway's CPU-heavy steps on request bodies, as plain functions of bytes (or a file path).

Small bodies run them inline; large ones run them in a limited child process
(processor/ingest/sandbox.py), so the arguments and results pickle: bytes, tuples, dataclasses,
``Rejection`` (re-raised in the parent).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from processor.ingest import documents, jira, payloads
from processor.ingest.envelope import MAX_ID_CHARS, CheckedEvent, check_event
from processor.ingest.rejections import Rejection
from processor.ingest.scopes import Scope


@dataclass(frozen=True)
class EventLimits:
    max_items: int
    max_event_bytes: int
    max_depth: int


@dataclass(frozen=True)
class CheckedBatch:
    single: bool
    checked: list[tuple[int, CheckedEvent]] = field(default_factory=list)
    #: ``{"index", "event_id", "status", "code", "message", "field"?}`` per refused item.
    rejected: list[dict[str, Any]] = field(default_factory=list)
    #: ``(event_id, other client)`` for ids written in another client's namespace.
    foreign: list[tuple[str, str]] = field(default_factory=list)


def check_events(
    body: bytes,
    limits: EventLimits,
    known_types: frozenset[str],
    scope: Scope,
    clients: Collection[str],
    tolerant_types: frozenset[str] = frozenset(),
) -> CheckedBatch:
    """Parse a ``/v1/events`` body and check each event; raises ``Rejection`` for the whole body."""
    # one level more than an event may have: a batch is an array around the events
    parsed = payloads.parse_json(body, limits.max_depth + 1, max_items=limits.max_items)
    single = isinstance(parsed, dict)
    if single:
        items = [parsed]
    elif isinstance(parsed, list):
        if not parsed:
            raise Rejection(400, "empty_batch", "the batch holds no events")
        items = parsed
    else:
        raise Rejection(400, "not_an_object", "the body must be an event (JSON object) or a batch (JSON array)")
    batch = CheckedBatch(single)
    for index, item in enumerate(items):
        event_id = _event_id_of(item)
        if event_id is not None:
            prefix, sep, _ = event_id.partition("/")
            if sep and prefix != scope.client and prefix in clients:
                batch.foreign.append((event_id, prefix))
        try:
            event = check_event(
                item,
                known_types=known_types,
                tolerant_types=tolerant_types,
                max_bytes=limits.max_event_bytes,
                max_depth=limits.max_depth,
                scope=scope,
                depth_checked=True,  # the whole body was checked above
            )
        except Rejection as exc:
            batch.rejected.append({"index": index, "event_id": event_id, **exc.as_json()})
        else:
            batch.checked.append((index, event))
    return batch


def _event_id_of(item: Any) -> str | None:
    if isinstance(item, dict) and isinstance(item.get("event_id"), str):
        return str(item["event_id"])[:MAX_ID_CHARS]
    return None


@dataclass(frozen=True)
class WebhookResult:
    #: The ``webhookEvent`` when the call is acknowledged and ignored (not issue_created).
    ignored: str | None = None
    event: CheckedEvent | None = None
    #: When Jira sent it (the webhook's ``timestamp``, else the issue's creation): for freshness.
    sent_at_ms: int | None = None


def map_webhook(
    body: bytes, max_depth: int, priority_aliases: Mapping[str, str], max_event_bytes: int
) -> WebhookResult:
    """A signed Jira webhook body to its event (or the name of the event it ignores)."""
    parsed = payloads.parse_json(body, max_depth)
    name = jira.webhook_event(parsed)
    if name is None:
        raise Rejection(422, "not_a_jira_webhook", "body has no webhookEvent", field="webhookEvent")
    if name != jira.ISSUE_CREATED:
        return WebhookResult(ignored=name)
    event = jira.map_issue_created(parsed, priority_aliases=priority_aliases, max_bytes=max_event_bytes)
    return WebhookResult(event=event, sent_at_ms=jira.sent_at_ms(event))


def inspect_file(
    path: Path, declared_mime: str, declared_size: int | None, declared_sha256: str | None
) -> documents.Inspection:
    """What an uploaded file (on disk) is; reads it here, in the child, not in the gateway."""
    return documents.inspect(
        path.read_bytes(), declared_mime, declared_size=declared_size, declared_sha256=declared_sha256
    )
