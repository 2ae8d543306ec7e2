"""The envelope of docs/design.md §2, checked in one place for the decoder and the gateway.

The decode stage reads every event's envelope with ``check_envelope``; the HTTP gateway
(processor/ingest/envelope.py) runs the same function on a posted event before it goes to Kafka,
so what the gateway accepts the decoder accepts, and a refusal carries the code and message the
quarantine record would have. A failure raises ``SchemaError`` (stage ``schema``): the decoder
turns it into a ``Reason`` at its boundary, the gateway into a 422.

``source`` is left to the validate stage by the decoder (each type's Avro schema declares it, and
a tolerant type coerces a number to a string there); the gateway reads it before, for a client's
scope, with ``read_source``, by the same rule.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from processor.errors import SchemaError

#: Checked for presence in this order (after ``event_type``, which selects the type's policy).
REQUIRED = ("event_id", "event_type", "occurred_at", "entity_id")

#: A type's validation policy (``strict`` or ``tolerant``), or None when no pipeline handles it.
ValidationOf = Callable[[str], str | None]


@dataclass(frozen=True, slots=True)
class Envelope:
    """An event's envelope, read: ids as strings, the event time as epoch milliseconds."""

    event_id: str
    event_type: str
    entity_id: str
    occurred_at: int
    sequence: int | None
    schema_version: int | None
    #: Fields a tolerant type had coerced (``event_id``/``entity_id`` from an integer,
    #: ``sequence`` from a string of digits), in the order met.
    coercions: tuple[str, ...] = ()


def check_envelope(record: Mapping[str, Any], validation_of: ValidationOf) -> Envelope:
    """Read the envelope of one record, or raise ``SchemaError`` naming the field (first fault wins).

    ``record`` is not changed: the caller writes the read values back if it keeps the record.
    """
    raw_id = record.get("event_id")
    event_id = raw_id if isinstance(raw_id, str) else None  # what the quarantine record can name
    event_type = record.get("event_type")
    if event_type is None:
        raise SchemaError(
            "missing_envelope_field", "envelope field event_type is missing", field="event_type", event_id=event_id
        )
    if not isinstance(event_type, str):
        raise SchemaError("wrong_type", "event_type must be a string", field="event_type", event_id=event_id)
    validation = validation_of(event_type)
    if validation is None:
        raise SchemaError(
            "unknown_event_type",
            f"no pipeline or schema for event_type {event_type[:100]!r}",
            field="event_type",
            event_id=event_id,
        )

    def fail(code: str, message: str, field: str) -> SchemaError:
        return SchemaError(code, message, field=field, event_type=event_type, event_id=event_id)

    for name in REQUIRED:
        if record.get(name) is None:
            raise fail("missing_envelope_field", f"envelope field {name} is missing", name)
    tolerant = validation == "tolerant"
    coercions: list[str] = []
    ids: dict[str, str] = {}
    for name in ("event_id", "entity_id"):
        value = record[name]
        if isinstance(value, int) and not isinstance(value, bool) and tolerant:
            value = str(value)
            coercions.append(name)
        if not isinstance(value, str):
            raise fail("wrong_type", f"{name} must be a string, got {type(value).__name__}", name)
        if not value.strip():  # an id of blanks names nothing: every such event would share one dedupe key
            raise fail("empty_envelope_field", f"{name} is empty", name)
        ids[name] = value
    occurred_at = event_time(record["occurred_at"])
    if occurred_at is None:
        raise fail("wrong_type", "occurred_at must be epoch milliseconds or an RFC 3339 string", "occurred_at")
    sequence = record.get("sequence")
    if isinstance(sequence, str) and tolerant and sequence.lstrip("-").isdigit():
        sequence = int(sequence)
        coercions.append("sequence")
    if sequence is not None and (not isinstance(sequence, int) or isinstance(sequence, bool)):
        raise fail("wrong_type", "sequence must be an integer", "sequence")
    version = record.get("schema_version")
    if version is not None and (not isinstance(version, int) or isinstance(version, bool)):
        raise fail("wrong_type", "schema_version must be an integer", "schema_version")
    return Envelope(
        event_id=ids["event_id"],
        event_type=event_type,
        entity_id=ids["entity_id"],
        occurred_at=occurred_at,
        sequence=sequence,
        schema_version=version,
        coercions=tuple(coercions),
    )


def read_source(record: Mapping[str, Any], tolerant: bool) -> str | None:
    """The optional ``source`` as the validate stage will read it: a string (a tolerant type's
    number becomes its text), or None when absent; anything else raises ``SchemaError``."""
    source = record.get("source")
    if source is None or isinstance(source, str):
        return source
    if tolerant and isinstance(source, int | float) and not isinstance(source, bool):
        return str(source)
    raise SchemaError("wrong_type", f"source must be a string, got {type(source).__name__}", field="source")


def event_time(value: Any) -> int | None:
    """Epoch milliseconds from an integer (or an integral float) or an RFC 3339 string; else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        return rfc3339_ms(value)
    return None


def rfc3339_ms(value: str) -> int | None:
    """An RFC 3339 timestamp as epoch milliseconds; None when it is not one (or has no offset)."""
    if not 10 <= len(value) <= 40:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:  # RFC 3339 requires an offset; a naive time is ambiguous
        return None
    return int(parsed.timestamp() * 1000)
