"""The error hierarchy: one root, one class per stage, the raw message carried along."""

from __future__ import annotations

import pytest

from processor.errors import (
    QUARANTINE_STAGES,
    ConfigError,
    DecodeError,
    FeatureError,
    LateEventError,
    ProcessingError,
    ProcessorError,
    SchemaError,
    SemanticError,
    StateError,
)
from processor.messages import RawMessage
from processor.state.reorder_store import StateLostError

STAGES = {
    ConfigError: "config",
    DecodeError: "decode",
    SchemaError: "schema",
    SemanticError: "semantic",
    LateEventError: "late",
    FeatureError: "features",
    ProcessingError: "processing",
    StateError: "state",
    ProcessorError: "processing",
}


@pytest.mark.parametrize(("cls", "stage"), STAGES.items(), ids=lambda x: getattr(x, "__name__", x))
def test_stage_names(cls, stage):
    assert issubclass(cls, ProcessorError)
    assert issubclass(cls, Exception)
    assert cls.stage == stage
    assert cls("c", "m").stage == stage


def test_quarantine_stages_are_the_record_stages():
    assert QUARANTINE_STAGES == ("decode", "schema", "semantic", "late", "features", "processing")
    per_event = {DecodeError, SchemaError, SemanticError, LateEventError, FeatureError, ProcessingError}
    assert {cls.stage for cls in per_event} == set(QUARANTINE_STAGES)
    assert ConfigError.stage not in QUARANTINE_STAGES  # config errors stop start-up, never quarantine


def test_state_lost_is_a_state_error():
    assert issubclass(StateLostError, StateError)
    assert StateLostError("state_lost", "m").stage == "state"


def test_fields_and_message():
    raw = RawMessage("events.raw", 2, 7, b"k", b"\xff")
    err = SchemaError("wrong_type", "must be a string", field="a.b[0]", raw=raw, event_type="t", event_id="e")
    assert (err.code, err.message, err.field) == ("wrong_type", "must be a string", "a.b[0]")
    assert err.raw is raw
    assert (err.event_type, err.event_id) == ("t", "e")
    assert str(err) == "wrong_type: must be a string (field a.b[0])"


def test_defaults():
    err = DecodeError("tombstone", "null value")
    assert str(err) == "tombstone: null value"
    assert err.field is None and err.raw is None and err.event_type is None and err.event_id is None


def test_raw_can_be_attached_later():
    err = DecodeError("x", "y")
    raw = RawMessage("t", 0, 0, None, None)
    err.raw = raw
    assert err.raw is raw


def test_event_id_is_capped_and_must_be_a_string():
    assert len(SchemaError("c", "m", event_id="x" * 10_000).event_id or "") == 200
    assert SchemaError("c", "m", event_id=42).event_id is None  # type: ignore[arg-type]


def test_catch_by_root():
    with pytest.raises(ProcessorError) as info:
        raise LateEventError("behind_watermark", "late")
    assert info.value.stage == "late"


def test_a_stage_error_becomes_a_reason_value_with_the_same_fields():
    err = SemanticError("out_of_range", "age_years=500 is above 120", field="age_years", event_type="t", event_id="e")
    reason = err.reason()
    assert (reason.stage, reason.code, reason.message, reason.field) == (
        "semantic",
        "out_of_range",
        "age_years=500 is above 120",
        "age_years",
    )
    assert (reason.event_type, reason.event_id) == ("t", "e")
    assert (reason.exception, reason.trace) == ("processor.errors.SemanticError", None)
    assert reason == err.reason()  # a value: equal when its fields are
    with pytest.raises(AttributeError):
        reason.code = "other"  # type: ignore[misc]


def test_a_reason_names_user_codes_exception_and_keeps_its_trace():
    try:
        {}["amount"]
    except KeyError as exc:
        err = FeatureError("feature_error", f"KeyError: {exc}")
        err.__cause__ = exc
    reason = err.reason()
    assert reason.exception == "KeyError"
    assert reason.trace is not None and reason.trace.startswith("Traceback") and "KeyError: 'amount'" in reason.trace


def test_a_reason_reads_the_envelope_set_after_the_error_was_raised():
    # validate_batch names the event once the per-event helper has raised
    err = SchemaError("missing_field", "email is missing", field="email")
    err.event_type, err.event_id = "user_signed_up", "su-1"
    assert (err.reason().event_type, err.reason().event_id) == ("user_signed_up", "su-1")
