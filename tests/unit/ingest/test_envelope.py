"""The gateway's envelope checks: what passes decodes in the processor, what fails names its field."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from processor.ingest.envelope import MAX_ID_CHARS, check_event
from processor.ingest.rejections import Rejection

KNOWN = frozenset({"user_signed_up", "jira_ticket_created", "document_uploaded"})


def _event(**changes: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "event_id": "e-1",
        "event_type": "user_signed_up",
        "occurred_at": "2026-01-02T03:04:05Z",
        "entity_id": "user-1",
        "email": "a@example.com",
    }
    event.update(changes)
    return {k: v for k, v in event.items() if v is not _DROP}


_DROP = object()


def _check(item: Any, max_bytes: int = 10_000, max_depth: int = 8) -> Any:
    return check_event(item, known_types=KNOWN, max_bytes=max_bytes, max_depth=max_depth)


def _rejection(item: Any, **kwargs: Any) -> Rejection:
    with pytest.raises(Rejection) as info:
        _check(item, **kwargs)
    return info.value


def test_a_valid_event_keeps_every_field_and_is_keyed_by_entity() -> None:
    checked = _check(_event(sequence=3, schema_version=2, source="partner-a"))
    assert (checked.event_id, checked.event_type, checked.entity_id) == ("e-1", "user_signed_up", "user-1")
    assert orjson.loads(checked.value) == _event(sequence=3, schema_version=2, source="partner-a")


@pytest.mark.parametrize("occurred_at", [1_767_000_000_000, "2026-01-02T03:04:05.123+01:00", 1_767_000_000_000.0])
def test_event_time_in_either_form(occurred_at: Any) -> None:
    _check(_event(occurred_at=occurred_at))


@pytest.mark.parametrize(
    ("changes", "code", "field"),
    [
        ({"event_id": _DROP}, "missing_envelope_field", "event_id"),
        ({"entity_id": _DROP}, "missing_envelope_field", "entity_id"),
        ({"occurred_at": _DROP}, "missing_envelope_field", "occurred_at"),
        ({"event_type": _DROP}, "missing_envelope_field", "event_type"),
        ({"event_id": 42}, "wrong_type", "event_id"),
        ({"entity_id": "  "}, "empty_envelope_field", "entity_id"),
        ({"entity_id": "x" * (MAX_ID_CHARS + 1)}, "id_too_long", "entity_id"),
        ({"event_type": "invoice_paid"}, "unknown_event_type", "event_type"),
        ({"event_type": ["user_signed_up"]}, "wrong_type", "event_type"),
        ({"occurred_at": "yesterday"}, "wrong_type", "occurred_at"),
        ({"occurred_at": "2026-01-02T03:04:05"}, "wrong_type", "occurred_at"),  # no offset: ambiguous
        ({"occurred_at": True}, "wrong_type", "occurred_at"),
        ({"sequence": "7"}, "wrong_type", "sequence"),
        ({"schema_version": 1.5}, "wrong_type", "schema_version"),
        ({"source": 3}, "wrong_type", "source"),
    ],
)
def test_envelope_violations_are_422_naming_the_field(changes: dict[str, Any], code: str, field: str) -> None:
    rejection = _rejection(_event(**changes))
    assert (rejection.status, rejection.code, rejection.field) == (422, code, field)


def test_not_an_object_is_400() -> None:
    rejection = _rejection(["an", "array"])
    assert (rejection.status, rejection.code) == (400, "not_an_object")


def test_too_deep_is_400() -> None:
    nested: Any = "leaf"
    for _ in range(20):
        nested = {"n": nested}
    rejection = _rejection(_event(extra=nested))
    assert (rejection.status, rejection.code) == (400, "too_deeply_nested")


def test_oversized_event_is_413() -> None:
    rejection = _rejection(_event(blob="x" * 5_000), max_bytes=2_048)
    assert (rejection.status, rejection.code) == (413, "event_too_large")
