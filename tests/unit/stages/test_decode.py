"""decode: every bad input becomes a Rejected with a precise stage and code; good input becomes an Event."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from helpers.records import T0, sensor_pipelines, sensor_record, write_sensor_schema
from processor.config import PipelinesConfig, ProcessingSettings
from processor.messages import Event, RawMessage, Rejected
from processor.serializers.avro import encode_single_object
from processor.serializers.schemas import SchemaStore
from processor.stages.decode import Decoder


def reject_one(decoder: Decoder, raw: RawMessage) -> Rejected:
    events, rejected = decoder.decode_batch([raw])
    assert events == [], f"expected a rejection, got {events}"
    assert len(rejected) == 1
    item = rejected[0]
    assert item.raw is raw
    return item


def decode_one(decoder: Decoder, raw: RawMessage) -> Event:
    events, rejected = decoder.decode_batch([raw])
    assert rejected == [], [(r.reason.stage, r.reason.code, r.reason.message) for r in rejected]
    assert len(events) == 1
    assert events[0].raw is raw
    return events[0]


def assert_rejected(item: Rejected, stage: str, code: str, field: str | None = None) -> None:
    assert (item.reason.stage, item.reason.code) == (stage, code), item.reason.message
    if field is not None:
        assert item.reason.field == field


def nested(depth: int) -> bytes:
    """An envelope-less object whose field ``a`` holds arrays nested so the whole value is ``depth`` deep."""
    inner = depth - 1
    return b'{"a":' + b"[" * inner + b"]" * inner + b"}"


def with_nesting(record: dict[str, Any], depth: int) -> bytes:
    """A valid event plus a field nesting arrays so the whole value is ``depth`` levels deep."""
    body = orjson.dumps(record)
    inner = depth - 1
    return body[:-1] + b',"deep":' + b"[" * inner + b"]" * inner + b"}"


# -- decode-stage rejections ---------------------------------------------------------------------


def test_tombstone(decoder, raw_factory):
    assert_rejected(reject_one(decoder, raw_factory(None)), "decode", "tombstone")


def test_oversized_value_is_rejected_before_parsing(decoder, raw_factory, settings):
    limit = settings.processing.max_message_bytes
    item = reject_one(decoder, raw_factory(b"{" + b" " * limit + b"}"))
    assert_rejected(item, "decode", "oversized")
    assert item.reason.exception == "processor.errors.DecodeError"


def test_value_exactly_at_the_size_limit_is_not_oversized(decoder, raw_factory, settings, signup):
    body = orjson.dumps(signup)
    padded = body[:-1] + b" " * (settings.processing.max_message_bytes - len(body)) + b"}"
    assert len(padded) == settings.processing.max_message_bytes
    decode_one(decoder, raw_factory(padded))


@pytest.mark.parametrize(
    "value",
    [b"\xff\xfe{}", b'{"event_id": "\xc3\x28"}', b'{"a": "caf\xe9"}', b"\x80"],
    ids=["bom-like", "bad-continuation", "latin-1", "lone-continuation"],
)
def test_non_utf8(decoder, raw_factory, value):
    assert_rejected(reject_one(decoder, raw_factory(value)), "decode", "invalid_utf8")


@pytest.mark.parametrize(
    "value", [b'{"a":', b"{", b"", b"   ", b"{'a': 1}", b'{"a": 1,}', b"not json", b'{"a" 1}', b"\xc3"]
)
def test_broken_json(decoder, raw_factory, value):
    item = reject_one(decoder, raw_factory(value))
    assert item.reason.stage == "decode"
    # a lone 0xC3 is both broken JSON and broken UTF-8; either diagnosis is fair
    expected = {"invalid_json", "invalid_utf8"} if value == b"\xc3" else {"invalid_json"}
    assert item.reason.code in expected


@pytest.mark.parametrize(
    "value", [b"[]", b"[1, 2]", b'[{"event_id": "x"}]', b'"a string"', b"42", b"1.5", b"null", b"true"]
)
def test_not_an_object(decoder, raw_factory, value):
    assert_rejected(reject_one(decoder, raw_factory(value)), "decode", "not_an_object")


def test_nesting_at_the_limit_is_accepted_and_one_deeper_is_rejected(decoder, raw_factory, settings, signup):
    limit = settings.processing.max_json_depth
    decode_one(decoder, raw_factory(with_nesting(signup, limit)))
    item = reject_one(decoder, raw_factory(with_nesting(signup, limit + 1)))
    assert_rejected(item, "decode", "too_deeply_nested")


def test_nesting_100_levels(decoder, raw_factory):
    assert_rejected(reject_one(decoder, raw_factory(nested(100))), "decode", "too_deeply_nested")


def test_nested_objects_count_too(decoder, raw_factory):
    value = b'{"a":' * 99 + b"1" + b"}" * 99
    assert_rejected(reject_one(decoder, raw_factory(value)), "decode", "too_deeply_nested")


@pytest.mark.parametrize("depth", [2_000, 100_000])
def test_extreme_nesting_never_raises_and_is_quarantined_at_decode(decoder, raw_factory, depth):
    raw = raw_factory(nested(depth))
    events, rejected = decoder.decode_batch([raw])  # must not raise RecursionError or anything else
    assert events == []
    assert [r.reason.stage for r in rejected] == ["decode"]


@pytest.mark.parametrize("depth", [2_000, 100_000])
def test_extreme_nesting_is_diagnosed_as_too_deeply_nested(decoder, raw_factory, depth):
    assert_rejected(reject_one(decoder, raw_factory(nested(depth))), "decode", "too_deeply_nested")


@pytest.mark.parametrize("literal", [b"NaN", b"Infinity", b"-Infinity"])
def test_non_finite_literals(decoder, raw_factory, signup, literal):
    body = orjson.dumps(signup)[:-1] + b', "score": ' + literal + b"}"
    assert_rejected(reject_one(decoder, raw_factory(body)), "decode", "non_finite_number")


def test_nan_inside_a_string_is_just_text(decoder, raw_factory, signup):
    signup["user_agent"] = "NaN Infinity -Infinity"
    event = decode_one(decoder, raw_factory(signup))
    assert event.record["user_agent"] == "NaN Infinity -Infinity"


def test_broken_json_mentioning_infinity_in_a_string_is_invalid_json(decoder, raw_factory):
    value = b'{"summary": "to Infinity and beyond",}'
    assert_rejected(reject_one(decoder, raw_factory(value)), "decode", "invalid_json")


def test_confluent_wire_format_without_registry(decoder, raw_factory):
    value = b"\x00\x00\x00\x00\x07" + b"\x02ab"
    assert_rejected(reject_one(decoder, raw_factory(value)), "decode", "schema_registry_not_configured")


# -- Avro framing --------------------------------------------------------------------------------


def avro_signup_v1(signup: dict[str, Any]) -> dict[str, Any]:
    record = {k: v for k, v in signup.items() if k != "referral_code"}
    record["schema_version"] = None
    return record


def test_avro_unknown_fingerprint(decoder, raw_factory, schema_store, signup):
    good = encode_single_object(schema_store.latest("user_signed_up"), signup)
    value = good[:2] + b"\x01\x02\x03\x04\x05\x06\x07\x08" + good[10:]
    item = reject_one(decoder, raw_factory(value))
    assert_rejected(item, "decode", "unknown_schema_fingerprint")
    assert "0102030405060708" in item.reason.message


def test_avro_header_shorter_than_ten_bytes(decoder, raw_factory, schema_store):
    fp = schema_store.latest("user_signed_up").fingerprint
    for value in (b"\xc3\x01", b"\xc3\x01" + fp[:5]):
        assert_rejected(reject_one(decoder, raw_factory(value)), "decode", "avro_truncated")


@pytest.mark.parametrize("cut", [1, 5, 20])
def test_avro_truncated_payload(decoder, raw_factory, schema_store, signup, cut):
    good = encode_single_object(schema_store.latest("user_signed_up"), signup)
    assert_rejected(reject_one(decoder, raw_factory(good[:-cut])), "decode", "avro_truncated")


def test_avro_header_only(decoder, raw_factory, schema_store):
    value = b"\xc3\x01" + schema_store.latest("user_signed_up").fingerprint
    assert_rejected(reject_one(decoder, raw_factory(value)), "decode", "avro_truncated")


def test_avro_trailing_bytes(decoder, raw_factory, schema_store, signup):
    good = encode_single_object(schema_store.latest("user_signed_up"), signup)
    item = reject_one(decoder, raw_factory(good + b"\x00\x00\x00"))
    assert_rejected(item, "decode", "avro_trailing_bytes")
    assert "3 bytes" in item.reason.message


def test_avro_event_type_must_match_the_writer_schema(decoder, raw_factory, schema_store, signup):
    signup["event_type"] = "jira_ticket_created"
    value = encode_single_object(schema_store.latest("user_signed_up"), signup)
    assert_rejected(reject_one(decoder, raw_factory(value)), "schema", "event_type_mismatch", "event_type")


# -- envelope ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["event_type", "event_id", "entity_id", "occurred_at"])
def test_missing_envelope_field(decoder, raw_factory, signup, name):
    del signup[name]
    item = reject_one(decoder, raw_factory(signup))
    assert_rejected(item, "schema", "missing_envelope_field", name)
    assert item.reason.exception == "processor.errors.SchemaError"
    if name != "event_id":
        assert item.reason.event_id == "su-1"  # what the envelope did tell us stays searchable


@pytest.mark.parametrize("name", ["event_type", "event_id", "entity_id", "occurred_at"])
def test_null_envelope_field_counts_as_missing(decoder, raw_factory, signup, name):
    signup[name] = None
    assert_rejected(reject_one(decoder, raw_factory(signup)), "schema", "missing_envelope_field", name)


@pytest.mark.parametrize("event_type", ["nope", "User_Signed_Up", "", "<script>alert(1)</script>"])
def test_unknown_event_type(decoder, raw_factory, signup, event_type):
    signup["event_type"] = event_type
    assert_rejected(reject_one(decoder, raw_factory(signup)), "schema", "unknown_event_type", "event_type")


def test_event_type_not_a_string(decoder, raw_factory, signup):
    signup["event_type"] = 7
    assert_rejected(reject_one(decoder, raw_factory(signup)), "schema", "wrong_type", "event_type")


@pytest.mark.parametrize("name", ["event_id", "entity_id"])
@pytest.mark.parametrize("value", [42, 1.5, True, ["x"], {"id": "x"}])
def test_id_not_a_string_in_a_strict_type(decoder, raw_factory, jira, name, value):
    jira[name] = value
    assert_rejected(reject_one(decoder, raw_factory(jira)), "schema", "wrong_type", name)


def test_integer_id_is_coerced_in_a_tolerant_type(decoder, raw_factory, signup):
    signup["event_id"] = 42
    event = decode_one(decoder, raw_factory(signup))
    assert event.event_id == "42"
    assert event.record["event_id"] == "42"
    assert "event_id" in event.coercions


@pytest.mark.parametrize("name", ["event_id", "entity_id"])
def test_empty_id(decoder, raw_factory, signup, name):
    signup[name] = ""
    assert_rejected(reject_one(decoder, raw_factory(signup)), "schema", "empty_envelope_field", name)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-06-01T00:00:00Z", T0),
        ("2024-06-01T02:00:00+02:00", T0),
        ("2024-05-31T19:00:00-05:00", T0),
        ("2024-06-01T00:00:00.250Z", T0 + 250),
    ],
)
def test_rfc3339_occurred_at_becomes_epoch_ms(decoder, raw_factory, signup, text, expected):
    signup["occurred_at"] = text
    event = decode_one(decoder, raw_factory(signup))
    assert event.occurred_at == expected
    assert event.record["occurred_at"] == expected


@pytest.mark.parametrize(
    "text", ["2024-06-01T00:00:00", "2024-06-01 00:00:00", "yesterday", "2024-13-01T00:00:00Z", ""]
)
def test_occurred_at_without_offset_or_garbage_is_wrong_type(decoder, raw_factory, signup, text):
    signup["occurred_at"] = text
    assert_rejected(reject_one(decoder, raw_factory(signup)), "schema", "wrong_type", "occurred_at")


@pytest.mark.parametrize("value", [True, [T0], {"ms": T0}, 1.5])
def test_occurred_at_of_the_wrong_kind(decoder, raw_factory, signup, value):
    signup["occurred_at"] = value
    assert_rejected(reject_one(decoder, raw_factory(signup)), "schema", "wrong_type", "occurred_at")


def test_sequence_and_schema_version_types(decoder, raw_factory, jira):
    jira["sequence"] = "7"
    assert_rejected(reject_one(decoder, raw_factory(jira)), "schema", "wrong_type", "sequence")
    jira["sequence"] = None
    jira["schema_version"] = "1"
    assert_rejected(reject_one(decoder, raw_factory(jira)), "schema", "wrong_type", "schema_version")


def test_string_sequence_is_coerced_in_a_tolerant_type(decoder, raw_factory, signup):
    signup["sequence"] = "7"
    event = decode_one(decoder, raw_factory(signup))
    assert event.sequence == 7
    assert "sequence" in event.coercions


# -- valid input ---------------------------------------------------------------------------------


def assert_decoded_as(event: Event, record: dict[str, Any], encoding: str) -> None:
    """The event carries the record unchanged and its envelope, read off the record."""
    assert event.encoding == encoding
    assert event.event_id == record["event_id"]
    assert event.event_type == record["event_type"]
    assert event.entity_id == record["entity_id"]
    assert event.occurred_at == T0
    assert event.sequence == record["sequence"]
    assert event.schema_version == record["schema_version"]
    assert event.record == record


@pytest.mark.parametrize("fixture", ["signup", "jira", "document"])
def test_valid_json(decoder, raw_factory, request, fixture):
    record = request.getfixturevalue(fixture)
    raw = raw_factory(record, offset=17)
    event = decode_one(decoder, raw)
    assert_decoded_as(event, record, "json")
    assert event.late is False
    assert event.coercions == ()
    assert event.order_key == (T0, record["sequence"] if record["sequence"] is not None else -1, 17)


def test_json_without_optional_envelope_fields(decoder, raw_factory, signup):
    for name in ("sequence", "schema_version", "source"):
        del signup[name]
    event = decode_one(decoder, raw_factory(signup))
    assert event.sequence is None
    assert event.schema_version is None


@pytest.mark.parametrize("fixture", ["signup", "jira", "document"])
def test_valid_avro(decoder, raw_factory, schema_store, request, fixture):
    record = request.getfixturevalue(fixture)
    value = encode_single_object(schema_store.latest(record["event_type"]), record)
    event = decode_one(decoder, raw_factory(value))
    assert_decoded_as(event, record, "avro")  # every field as plain JSON-able values, timestamps as epoch ms


def test_avro_v1_is_resolved_to_v2(decoder, raw_factory, schema_store, signup):
    v1 = avro_signup_v1(signup)
    value = encode_single_object(schema_store.get("user_signed_up", 1), v1)
    event = decode_one(decoder, raw_factory(value))
    assert event.encoding == "avro"
    assert event.record["referral_code"] is None  # the v2 field, defaulted by schema resolution
    assert event.schema_version == 1  # the writer's version
    assert event.occurred_at == T0


def test_avro_from_a_schema_without_logical_types(tmp_path: Path, raw_factory):
    """The Avro path end to end on a schema whose event time is a plain long (no datetime conversion)."""
    store, pipelines = sensor_store(tmp_path)
    decoder = Decoder(store, pipelines, ProcessingSettings())
    record = sensor_record(value=1.5)
    event = decode_one(decoder, raw_factory(encode_single_object(store.get("sensor_read", 1), record)))
    assert event.encoding == "avro"
    assert (event.event_id, event.entity_id, event.occurred_at) == ("s-1", "dev-1", T0)
    assert event.record["unit"] == "C"  # v2 field defaulted
    assert event.schema_version == 1


def sensor_store(root: Path) -> tuple[SchemaStore, PipelinesConfig]:
    (root / "output").mkdir()
    write_sensor_schema(root, 1)
    write_sensor_schema(root, 2, [{"name": "unit", "type": "string", "default": "C"}])
    return SchemaStore(root), sensor_pipelines()


# -- hostile input and batches -------------------------------------------------------------------


def test_ten_megabytes(decoder, raw_factory):
    item = reject_one(decoder, raw_factory(b'{"a": "' + b"x" * 10_000_000 + b'"}'))
    assert_rejected(item, "decode", "oversized")


def test_script_and_rlo_text_is_kept_verbatim(decoder, raw_factory, signup):
    signup["user_agent"] = "<script>alert('x')</script>"
    signup["entity_id"] = "user\u202egnp.exe"
    signup["source"] = "\u202e\u200f\u0000"
    event = decode_one(decoder, raw_factory(signup))
    assert event.record["user_agent"] == "<script>alert('x')</script>"
    assert event.entity_id == "user\u202egnp.exe"
    assert event.record["source"] == "\u202e\u200f\u0000"


@pytest.mark.parametrize("element", [b"0", b"[]", b"{}"], ids=["numbers", "arrays", "objects"])
def test_million_element_array_within_the_size_limit(schema_store, pipelines, raw_factory, signup, element):
    decoder = Decoder(schema_store, pipelines, ProcessingSettings(max_message_bytes=8_000_000))
    body = orjson.dumps(signup)[:-1] + b',"big":[' + b",".join([element] * 1_000_000) + b"]}"
    assert len(body) <= 8_000_000
    raw = raw_factory(body)
    started = time.perf_counter()
    events, rejected = decoder.decode_batch([raw])
    # a guard against quadratic scanning (minutes), not a speed figure: generous on a busy machine
    assert time.perf_counter() - started < 30
    assert len(events) == 1  # three levels deep: well within the depth limit
    assert rejected == []
    assert len(events[0].record["big"]) == 1_000_000


def test_a_mixed_batch_accounts_for_every_input(decoder, raw_factory, schema_store, signup, jira):
    raws = [
        raw_factory(signup),
        raw_factory(None),
        raw_factory(b"\xff"),
        raw_factory(nested(100_000)),
        raw_factory(b"[1]"),
        raw_factory(jira),
        raw_factory(b"\xc3\x01" + b"\x00" * 8),
        raw_factory(b"\x00\x00\x00\x00\x01"),
        raw_factory({"event_type": "user_signed_up"}),
        raw_factory(b"x" * 2_000_000),
    ]
    events, rejected = decoder.decode_batch(raws)
    assert [e.raw for e in events] == [raws[0], raws[5]]
    assert [r.raw for r in rejected] == [raws[i] for i in (1, 2, 3, 4, 6, 7, 8, 9)]
    assert [r.reason.stage for r in rejected] == ["decode"] * 6 + ["schema", "decode"]
    assert len({r.raw.offset for r in rejected} | {e.raw.offset for e in events}) == len(raws)
