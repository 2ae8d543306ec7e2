"""The one envelope checker: its rules, and that the gateway and the decoder answer alike with it."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from processor.config import PipelinesConfig, Settings
from processor.envelope import Envelope, check_envelope, event_time, read_source, rfc3339_ms
from processor.errors import SchemaError
from processor.ingest.envelope import check_event
from processor.ingest.rejections import Rejection
from processor.messages import Event
from processor.serializers.schemas import SchemaStore
from processor.stages.decode import Decoder

POLICIES = {"strict_type": "strict", "tolerant_type": "tolerant"}
_DROP = object()


def _record(**changes: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "event_id": "e-1",
        "event_type": "strict_type",
        "occurred_at": "2026-01-02T03:04:05Z",
        "entity_id": "user-1",
        "payload": 1,
    }
    record.update(changes)
    return {k: v for k, v in record.items() if v is not _DROP}


def _fault(record: dict[str, Any]) -> SchemaError:
    with pytest.raises(SchemaError) as info:
        check_envelope(record, POLICIES.get)
    return info.value


def test_a_valid_envelope_is_read_and_the_record_left_as_it_was() -> None:
    record = _record(sequence=3, schema_version=2)
    before = copy.deepcopy(record)
    assert check_envelope(record, POLICIES.get) == Envelope(
        event_id="e-1",
        event_type="strict_type",
        entity_id="user-1",
        occurred_at=1_767_323_045_000,
        sequence=3,
        schema_version=2,
    )
    assert record == before


@pytest.mark.parametrize(
    ("changes", "code", "field", "message"),
    [
        ({"event_type": _DROP}, "missing_envelope_field", "event_type", "envelope field event_type is missing"),
        ({"event_type": 7}, "wrong_type", "event_type", "event_type must be a string"),
        (
            {"event_type": "invoice_paid"},
            "unknown_event_type",
            "event_type",
            "no pipeline or schema for event_type 'invoice_paid'",
        ),
        ({"event_id": _DROP}, "missing_envelope_field", "event_id", "envelope field event_id is missing"),
        ({"occurred_at": None}, "missing_envelope_field", "occurred_at", "envelope field occurred_at is missing"),
        ({"entity_id": _DROP}, "missing_envelope_field", "entity_id", "envelope field entity_id is missing"),
        ({"event_id": 42}, "wrong_type", "event_id", "event_id must be a string, got int"),
        ({"entity_id": ["u"]}, "wrong_type", "entity_id", "entity_id must be a string, got list"),
        ({"entity_id": ""}, "empty_envelope_field", "entity_id", "entity_id is empty"),
        ({"event_id": " \t"}, "empty_envelope_field", "event_id", "event_id is empty"),
        (
            {"occurred_at": "yesterday"},
            "wrong_type",
            "occurred_at",
            "occurred_at must be epoch milliseconds or an RFC 3339 string",
        ),
        ({"occurred_at": "2026-01-02T03:04:05"}, "wrong_type", "occurred_at", None),  # no offset: ambiguous
        ({"occurred_at": True}, "wrong_type", "occurred_at", None),
        ({"occurred_at": 1.5}, "wrong_type", "occurred_at", None),
        ({"sequence": "7"}, "wrong_type", "sequence", "sequence must be an integer"),
        ({"sequence": False}, "wrong_type", "sequence", None),
        ({"schema_version": 1.5}, "wrong_type", "schema_version", "schema_version must be an integer"),
    ],
)
def test_each_fault_names_its_code_field_and_message(
    changes: dict[str, Any], code: str, field: str, message: str | None
) -> None:
    fault = _fault(_record(**changes))
    assert (fault.stage, fault.code, fault.field) == ("schema", code, field)
    if message is not None:
        assert fault.message == message


def test_the_type_is_checked_first_then_presence_in_envelope_order() -> None:
    # several faults at once: the first of the decoder's order is the one reported
    assert _fault(_record(event_type="nope", event_id=_DROP, entity_id=_DROP)).code == "unknown_event_type"
    assert _fault(_record(event_id=_DROP, entity_id=_DROP)).field == "event_id"
    assert _fault(_record(occurred_at=_DROP, entity_id=_DROP)).field == "occurred_at"
    assert _fault(_record(event_id=5, occurred_at="never")).field == "event_id"


def test_a_fault_names_what_the_envelope_told_for_the_quarantine_record() -> None:
    before_the_type = _fault(_record(event_type="nope"))
    assert (before_the_type.event_type, before_the_type.event_id) == (None, "e-1")
    after_the_type = _fault(_record(sequence="x"))
    assert (after_the_type.event_type, after_the_type.event_id) == ("strict_type", "e-1")
    assert _fault(_record(event_id=5)).event_id is None  # not a string: nothing to search by


def test_a_tolerant_type_reads_integer_ids_and_digit_sequences() -> None:
    envelope = check_envelope(
        _record(event_type="tolerant_type", event_id=42, entity_id=7, sequence="-3"), POLICIES.get
    )
    assert (envelope.event_id, envelope.entity_id, envelope.sequence) == ("42", "7", -3)
    assert envelope.coercions == ("event_id", "entity_id", "sequence")
    assert _fault(_record(event_type="tolerant_type", sequence="3a")).code == "wrong_type"
    assert _fault(_record(event_type="tolerant_type", event_id=True)).code == "wrong_type"  # a bool is no id


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1_767_000_000_000, 1_767_000_000_000),
        (1_767_000_000_000.0, 1_767_000_000_000),
        ("2026-01-02T03:04:05.123+01:00", 1_767_319_445_123),
        ("2026-01-02T03:04:05z", 1_767_323_045_000),
        ("2026-01-02", None),
        ("x" * 41, None),
        (None, None),
        (False, None),
    ],
)
def test_event_time(value: Any, expected: int | None) -> None:
    assert event_time(value) == expected


def test_rfc3339_needs_an_offset() -> None:
    assert rfc3339_ms("2026-01-02T03:04:05+00:00") == 1_767_323_045_000
    assert rfc3339_ms("2026-01-02T03:04:05") is None


def test_source_is_read_as_the_validate_stage_reads_it() -> None:
    assert read_source({}, tolerant=False) is None
    assert read_source({"source": "web"}, tolerant=False) == "web"
    assert read_source({"source": 3}, tolerant=True) == "3"
    with pytest.raises(SchemaError) as info:
        read_source({"source": 3}, tolerant=False)
    assert (info.value.code, info.value.field) == ("wrong_type", "source")
    with pytest.raises(SchemaError):
        read_source({"source": True}, tolerant=True)


# -- the gateway and the decoder agree -----------------------------------------------------------


PARITY_CASES: list[dict[str, Any]] = [
    {},
    {"event_id": _DROP},
    {"event_type": _DROP},
    {"event_type": "invoice_paid"},
    {"event_type": 3},
    {"entity_id": ""},
    {"entity_id": "   "},
    {"event_id": 42},
    {"entity_id": 7},
    {"occurred_at": "2026-01-02T03:04:05"},
    {"occurred_at": 1_767_000_000_000.0},
    {"occurred_at": 1.5},
    {"sequence": "12"},
    {"sequence": "x"},
    {"sequence": 2.0},
    {"schema_version": "2"},
    {"event_type": "jira_ticket_created", "event_id": 42},
    {"event_type": "jira_ticket_created", "sequence": "12"},
]


@pytest.mark.parametrize("changes", PARITY_CASES, ids=lambda c: repr(c)[:60])
def test_the_gateway_accepts_what_the_decoder_accepts_and_refuses_with_its_code(
    changes: dict[str, Any],
    schema_store: SchemaStore,
    pipelines: PipelinesConfig,
    settings: Settings,
    raw_factory: Any,
    signup: dict[str, Any],
) -> None:
    record = {k: v for k, v in (signup | changes).items() if v is not _DROP}
    decoder = Decoder(schema_store, pipelines, settings.processing)
    events, rejected = decoder.decode_batch([raw_factory(copy.deepcopy(record))])
    tolerant = frozenset(n for n, c in pipelines.event_types.items() if c.validation == "tolerant")
    try:
        checked = check_event(
            record,
            known_types=frozenset(pipelines.event_types),
            tolerant_types=tolerant,
            max_bytes=1_000_000,
            max_depth=32,
        )
    except Rejection as rejection:
        assert events == [], f"the gateway refused ({rejection.code}) what the decoder accepts"
        reason = rejected[0].reason
        assert (rejection.status, rejection.code, rejection.field) == (422, reason.code, reason.field)
        assert rejection.message.startswith(reason.message)
    else:
        assert rejected == [], f"the gateway accepted what the decoder refuses: {rejected[0].reason}"
        (event,) = events
        assert isinstance(event, Event)
        assert (checked.event_id, checked.event_type, checked.entity_id) == (
            event.event_id,
            event.event_type,
            event.entity_id,
        )
