"""The envelope of docs/design.md §2, checked on events posted to ``/v1/events``.

Only the envelope: the processor validates each type's fields against its Avro schema and
quarantines what fails. Checking the envelope here gives the client a 422 it can act on for
the mistakes that would otherwise make an event unroutable (no id, no entity, no time, a type
no pipeline knows), and the same rules as the processor's decoder, so what passes here decodes
there.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import orjson

from processor.ingest.rejections import Rejection
from processor.ingest.scopes import Scope, namespaced
from processor.stages.decode import json_depth, rfc3339_ms

#: Ids are Kafka keys and Redis key parts: bounded, so one client cannot make them huge.
MAX_ID_CHARS = 512


@dataclass(frozen=True)
class CheckedEvent:
    """An event that passed the envelope checks, with the bytes that go to Kafka."""

    event_id: str
    event_type: str
    entity_id: str
    value: bytes


def check_event(
    item: Any,
    *,
    known_types: Collection[str],
    max_bytes: int,
    max_depth: int,
    scope: Scope | None = None,
    depth_checked: bool = False,
) -> CheckedEvent:
    """The envelope of one event; raises ``Rejection`` (400/403/413/422) naming the field.

    With a ``scope`` (a client's event on ``/v1/events``), the type and source must be in it and the
    id is namespaced by the client (``<client>/<id>``), in the bytes that go to Kafka too.
    ``depth_checked``: the caller already bounded the nesting of the whole body.
    """
    if not isinstance(item, dict):
        raise Rejection(400, "not_an_object", f"an event must be a JSON object, got {_kind(item)}")
    if not depth_checked and json_depth(item) > max_depth:
        raise Rejection(400, "too_deeply_nested", f"event nests deeper than {max_depth} levels")
    event_id = _id(item, "event_id")
    if scope is not None:
        event_id = namespaced(scope.client, event_id)
        if len(event_id) > MAX_ID_CHARS:
            raise Rejection(
                422,
                "id_too_long",
                f"event_id is over {MAX_ID_CHARS} characters with its client prefix",
                field="event_id",
            )
        item = {**item, "event_id": event_id}
    event_type = item.get("event_type")
    if event_type is None:
        raise Rejection(422, "missing_envelope_field", "envelope field event_type is missing", field="event_type")
    if not isinstance(event_type, str):
        raise Rejection(422, "wrong_type", f"event_type must be a string, got {_kind(event_type)}", field="event_type")
    if event_type not in known_types:
        raise Rejection(
            422,
            "unknown_event_type",
            f"no pipeline for event_type {event_type[:100]!r}; known: {', '.join(sorted(known_types))}",
            field="event_type",
        )
    entity_id = _id(item, "entity_id")
    occurred_at = item.get("occurred_at")
    if occurred_at is None:
        raise Rejection(422, "missing_envelope_field", "envelope field occurred_at is missing", field="occurred_at")
    if not _is_event_time(occurred_at):
        raise Rejection(
            422,
            "wrong_type",
            "occurred_at must be epoch milliseconds or an RFC 3339 string with an offset",
            field="occurred_at",
        )
    for name in ("schema_version", "sequence"):
        value = item.get(name)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
            raise Rejection(422, "wrong_type", f"{name} must be an integer, got {_kind(value)}", field=name)
    source = item.get("source")
    if source is not None and not isinstance(source, str):
        raise Rejection(422, "wrong_type", f"source must be a string, got {_kind(source)}", field="source")
    if scope is not None:
        scope.check(event_type, source)
    value = orjson.dumps(item)
    if len(value) > max_bytes:
        raise Rejection(413, "event_too_large", f"event is {len(value):,} bytes, over the {max_bytes:,}-byte limit")
    return CheckedEvent(event_id=event_id, event_type=event_type, entity_id=entity_id, value=value)


def _id(item: dict[str, Any], name: str) -> str:
    value = item.get(name)
    if value is None:
        raise Rejection(422, "missing_envelope_field", f"envelope field {name} is missing", field=name)
    if not isinstance(value, str):
        raise Rejection(422, "wrong_type", f"{name} must be a string, got {_kind(value)}", field=name)
    if not value.strip():
        raise Rejection(422, "empty_envelope_field", f"{name} is empty", field=name)
    if len(value) > MAX_ID_CHARS:
        raise Rejection(422, "id_too_long", f"{name} is {len(value)} characters, over {MAX_ID_CHARS}", field=name)
    return value


def _is_event_time(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    if isinstance(value, float):
        return value.is_integer()
    return isinstance(value, str) and rfc3339_ms(value) is not None


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean", int: "an integer"}.get(
        type(value), f"a {type(value).__name__}"
    )
