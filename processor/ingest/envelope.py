"""The envelope of docs/design.md §2, checked on events posted to ``/v1/events``.

Only the envelope: the processor validates each type's fields against its Avro schema and
quarantines what fails. Checking the envelope here gives the client a 422 it can act on for
the mistakes that would otherwise make an event unroutable (no id, no entity, no time, a type
no pipeline knows). The rules are the decoder's own (processor/envelope.py, one function for
both), so what passes here decodes there, and a refusal carries the code and message its
quarantine record would have. The gateway adds its own bounds: id length, body size and depth.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import orjson

from processor.envelope import check_envelope, read_source
from processor.errors import SchemaError
from processor.ingest.rejections import Rejection
from processor.ingest.scopes import Scope, namespaced
from processor.stages.decode import json_depth

#: Ids are Kafka keys and Redis key parts: bounded, so one client cannot make them huge. (The
#: gateway's own limit: the decoder takes any id its producers write.)
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
    tolerant_types: Collection[str] = frozenset(),
) -> CheckedEvent:
    """The envelope of one event; raises ``Rejection`` (400/403/413/422) naming the field.

    ``known_types`` are the types a pipeline handles, ``tolerant_types`` those of them whose
    validation policy is tolerant (the decoder then reads an integer id as a string, a string of
    digits as a sequence). With a ``scope`` (a client's event on ``/v1/events``), the type and
    source must be in it and the id is namespaced by the client (``<client>/<id>``), in the bytes
    that go to Kafka too. ``depth_checked``: the caller already bounded the nesting of the whole body.
    """
    if not isinstance(item, dict):
        raise Rejection(400, "not_an_object", f"an event must be a JSON object, got {_kind(item)}")
    if not depth_checked and json_depth(item) > max_depth:
        raise Rejection(400, "too_deeply_nested", f"event nests deeper than {max_depth} levels")

    def validation_of(event_type: str) -> str | None:
        if event_type not in known_types:
            return None
        return "tolerant" if event_type in tolerant_types else "strict"

    try:
        envelope = check_envelope(item, validation_of)
        source = read_source(item, envelope.event_type in tolerant_types)
    except SchemaError as exc:
        message = exc.message
        if exc.code == "unknown_event_type":
            message += f"; known: {', '.join(sorted(known_types))}"
        raise Rejection(422, exc.code, message, field=exc.field) from None
    for name, id_value in (("event_id", envelope.event_id), ("entity_id", envelope.entity_id)):
        if len(id_value) > MAX_ID_CHARS:
            raise Rejection(
                422, "id_too_long", f"{name} is {len(id_value)} characters, over {MAX_ID_CHARS}", field=name
            )
    event_id = envelope.event_id
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
        scope.check(envelope.event_type, source)
    value = orjson.dumps(item)
    if len(value) > max_bytes:
        raise Rejection(413, "event_too_large", f"event is {len(value):,} bytes, over the {max_bytes:,}-byte limit")
    return CheckedEvent(event_id=event_id, event_type=envelope.event_type, entity_id=envelope.entity_id, value=value)


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean", int: "an integer"}.get(
        type(value), f"a {type(value).__name__}"
    )
