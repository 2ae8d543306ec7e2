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
