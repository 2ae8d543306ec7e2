"""route: output records with lineage headers, exact quarantine copies, review records with the event."""

from __future__ import annotations

import io
import json
from typing import Any

import fastavro
import orjson
import pytest

from processor import __version__
from processor.config import PROJECT_ROOT, TopicsSettings
from processor.errors import DecodeError, FeatureError, SemanticError
from processor.messages import Decision, Event, RawMessage, Rejected, Scored
from processor.serializers.outputs import OutputEncoder, decode_json_output
from processor.stages.route import MAX_EMBEDDED_EVENT_BYTES, Router

T0 = 1_717_200_000_000
PROCESSED = T0 + 10_000


def output_fields(name: str) -> list[str]:
    schema = json.loads((PROJECT_ROOT / "processor" / "schemas" / "output" / f"{name}.avsc").read_text())
    return [f["name"] for f in schema["fields"]]


@pytest.fixture
def topics() -> TopicsSettings:
    return TopicsSettings(scored="out.scored", review="out.review", quarantine="out.quarantine")


@pytest.fixture
def router(topics, schema_store) -> Router:
    return Router(topics, OutputEncoder(schema_store))


class _AssignedIds:
    """The schema ids a registry assigned to the outputs (the real registry: tests/integration/registry)."""

    def id_for(self, schema_name: str, topic: str) -> int:
        return 41


@pytest.fixture
def avro_router(topics, schema_store) -> Router:
    return Router(topics, OutputEncoder(schema_store, "avro-registry", _AssignedIds()))


def event_from(raw: RawMessage, record: dict[str, Any], *, late: bool = False) -> Event:
    return Event(
        raw=raw,
        record=record,
        event_id=record["event_id"],
        event_type=record["event_type"],
        entity_id=record["entity_id"],
        occurred_at=record["occurred_at"],
        sequence=record.get("sequence"),
        schema_version=record.get("schema_version"),
        encoding="json",
        late=late,
    )


def decision(route: str = "scored", **kw: Any) -> Decision:
    base: dict[str, Any] = {
        "decision": "approve",
        "category": "legitimate",
        "score": 0.1,
        "confidence": 0.9,
        "decision_source": "model",
        "model_version": "user_signed_up-20240601-abc",
        "route": route,
        "reason": "score 0.100 >= 0.0",
    }
    return Decision(**{**base, **kw})


def lineage(headers) -> dict[str, bytes | None]:
    return dict(headers)


def read_avro(schema_store, name: str, value: bytes) -> dict[str, Any]:
    assert value[:5] == b"\x00\x00\x00\x00\x29"  # Confluent framing: magic byte, schema id 41
    buf = io.BytesIO(value[5:])
    record = fastavro.schemaless_reader(buf, schema_store.outputs[name], return_record_name=False)
    assert buf.tell() == len(value) - 5
    return record


def test_scored_record(router, raw_factory, signup):
    raw = raw_factory(signup, partition=3, offset=41)
    item = Scored(event_from(raw, signup, late=True), decision(rule_ids=("r1", "r2")), {"f": 1.0})
    out = router.scored(item, PROCESSED)
    assert out.topic == "out.scored"
    assert out.key == b"user-1"
    assert lineage(out.headers) == {
        "source-topic": b"events.raw",
        "source-partition": b"3",
        "source-offset": b"41",
        "content-type": b"application/json",
        "processor-schema": b"processor.outputs.ScoredEvent",
        "processor-schema-version": b"1",
    }
    record = orjson.loads(out.value)
    assert list(record) == output_fields("scored")
    assert record == {
        "event_id": "su-1",
        "event_type": "user_signed_up",
        "entity_id": "user-1",
        "occurred_at": T0,
        "processed_at": PROCESSED,
        "decision": "approve",
        "category": "legitimate",
        "score": 0.1,
        "confidence": 0.9,
        "decision_source": "model",
        "rule_ids": ["r1", "r2"],
        "model_version": "user_signed_up-20240601-abc",
        "late": True,
        "reason": "score 0.100 >= 0.0",
    }


def test_fallback_scored_record_has_null_score(router, raw_factory, jira):
    d = decision(score=None, confidence=None, decision_source="fallback", model_version=None, decision="accept")
    out = router.scored(Scored(event_from(raw_factory(jira), jira), d), PROCESSED)
    record = orjson.loads(out.value)
    assert record["score"] is None and record["confidence"] is None
    assert record["decision_source"] == "fallback"


def test_review_record_embeds_the_event(router, raw_factory, signup):
    raw = raw_factory(signup, offset=5)
    features = {"email_digits": 4.0, "ip_mismatch": None}
    d = decision("review", review_reason="confidence_band", score=0.55, confidence=0.55)
    out = router.scored(Scored(event_from(raw, signup), d, features), PROCESSED)
    assert out.topic == "out.review"
    assert out.key == b"user-1"
    assert lineage(out.headers)["source-offset"] == b"5"
    record = orjson.loads(out.value)
    assert list(record) == output_fields("review")
    assert record["review_reason"] == "confidence_band"
    assert record["features"] == features
    assert orjson.loads(record["event"]) == signup


def test_the_gateway_client_travels_to_the_review_item(router, raw_factory, signup):
    from processor.review.items import parse_review_record

    headers = (("ingest-client", b"crm"), ("ingest-route", b"/v1/events"), ("traceparent", b"00-abc-01"))
    raw = raw_factory(signup, headers=headers)
    out = router.scored(Scored(event_from(raw, signup), decision("review", review_reason="rule:x")), PROCESSED)
    carried = lineage(out.headers)
    assert carried["ingest-client"] == b"crm" and carried["ingest-route"] == b"/v1/events"
    assert "traceparent" not in carried  # only who sent it, not every header of the input
    item = parse_review_record(out.value, headers=carried)
    assert (item.client, item.route) == ("crm", "/v1/events")
    assert type(item).from_json(item.to_json()) == item


def test_review_without_a_reason_says_unspecified(router, raw_factory, signup):
    out = router.scored(Scored(event_from(raw_factory(signup), signup), decision("review")), PROCESSED)
    assert orjson.loads(out.value)["review_reason"] == "unspecified"


def test_huge_review_event_is_truncated(router, raw_factory, jira):
    jira["description"] = "x" * (MAX_EMBEDDED_EVENT_BYTES + 10)
    out = router.scored(Scored(event_from(raw_factory(jira), jira), decision("review")), PROCESSED)
    assert len(out.value) < MAX_EMBEDDED_EVENT_BYTES
    embedded = orjson.loads(orjson.loads(out.value)["event"])
    assert embedded["truncated"] is True
    assert embedded["event_id"] == "jira-1"
    assert embedded["bytes"] > MAX_EMBEDDED_EVENT_BYTES


def test_review_event_just_under_the_limit_is_kept_whole(router, raw_factory, jira):
    size = len(orjson.dumps(dict(jira, description="")))
    jira["description"] = "x" * (MAX_EMBEDDED_EVENT_BYTES - size)
    assert len(orjson.dumps(jira)) == MAX_EMBEDDED_EVENT_BYTES
    out = router.scored(Scored(event_from(raw_factory(jira), jira), decision("review")), PROCESSED)
    assert orjson.loads(orjson.loads(out.value)["event"]) == jira


HOSTILE_VALUES = [b"\xff\xfe\x00garbage", b"", b'{"event_id": "x"}', bytes(range(256))]


@pytest.mark.parametrize("value", [*HOSTILE_VALUES, None])
@pytest.mark.parametrize("key", [b"user-1", None, b"\x00\xff"])
def test_quarantine_record_carries_the_exact_original(router, raw_factory, value, key):
    headers = (("traceparent", b"00-abc-01"), ("binary", b"\x00\xff\xfe"), ("empty", b""), ("null", None))
    raw = raw_factory(value, key=key, headers=headers, partition=2, offset=99, timestamp_ms=T0 - 5)
    err = DecodeError("invalid_utf8", "value is not UTF-8", raw=raw)
    out = router.quarantined(Rejected(raw, err.reason()), PROCESSED)
    assert out.topic == "out.quarantine"
    assert out.key == key
    assert lineage(out.headers) == {
        "source-topic": b"events.raw",
        "source-partition": b"2",
        "source-offset": b"99",
        "content-type": b"application/json",
        "processor-schema": b"processor.outputs.QuarantineRecord",
        "processor-schema-version": b"1",
        # KIP-1034's dead-letter headers, as Kafka Streams 4.x writes them
        "__streams.errors.exception": b"processor.errors.DecodeError",
        "__streams.errors.stacktrace": b"processor.errors.DecodeError: decode/invalid_utf8: value is not UTF-8",
        "__streams.errors.message": b"invalid_utf8: value is not UTF-8",
        "__streams.errors.topic": b"events.raw",
        "__streams.errors.partition": b"2",
        "__streams.errors.offset": b"99",
    }
    record = decode_json_output(out.value)
    assert list(record) == output_fields("quarantine")
    assert record["key"] == key
    assert record["value"] == value
    assert [(h["key"], h["value"]) for h in record["headers"]] == list(headers)
    assert record == record | {
        "stage": "decode",
        "error_code": "invalid_utf8",
        "error_message": "value is not UTF-8",
        "field": None,
        "source_topic": "events.raw",
        "source_partition": 2,
        "source_offset": 99,
        "source_timestamp": T0 - 5,
        "quarantined_at": PROCESSED,
        "processor_version": __version__,
    }


def test_quarantine_record_names_the_field_and_envelope(router, raw_factory, signup):
    raw = raw_factory(signup)
    err = SemanticError("out_of_range", "age_years=500 is above the maximum 120", field="age_years")
    err.event_type, err.event_id = "user_signed_up", "su-1"
    record = decode_json_output(router.quarantined(Rejected(raw, err.reason()), PROCESSED).value)
    assert (record["stage"], record["error_code"], record["field"]) == ("semantic", "out_of_range", "age_years")
    assert (record["event_type"], record["event_id"]) == ("user_signed_up", "su-1")


def test_quarantine_error_message_is_capped(router, raw_factory):
    raw = raw_factory(b"x")
    record = decode_json_output(
        router.quarantined(Rejected(raw, DecodeError("x", "m" * 10_000).reason()), PROCESSED).value
    )
    assert record["error_message"] == "m" * 2000


# -- Avro output ---------------------------------------------------------------------------------


def test_avro_scored_and_review_records(avro_router, schema_store, raw_factory, signup):
    raw = raw_factory(signup)
    scored = avro_router.scored(Scored(event_from(raw, signup), decision()), PROCESSED)
    assert lineage(scored.headers)["content-type"] == b"application/vnd.confluent.avro"
    back = read_avro(schema_store, "scored", scored.value)
    assert back["event_id"] == "su-1" and back["score"] == 0.1 and back["rule_ids"] == []
    assert list(back) == output_fields("scored")

    review = avro_router.scored(
        Scored(event_from(raw, signup), decision("review", review_reason="rule"), {"a": 1.0, "b": None}), PROCESSED
    )
    back = read_avro(schema_store, "review", review.value)
    assert back["features"] == {"a": 1.0, "b": None}
    assert orjson.loads(back["event"]) == signup


@pytest.mark.parametrize("value", [*HOSTILE_VALUES, None])
def test_avro_quarantine_record(avro_router, schema_store, raw_factory, value):
    raw = raw_factory(value, headers=(("h", b"\xff"), ("n", None)))
    out = avro_router.quarantined(Rejected(raw, DecodeError("tombstone", "null").reason()), PROCESSED)
    back = read_avro(schema_store, "quarantine", out.value)
    assert back["value"] == value
    assert back["key"] == raw.key
    assert [(h["key"], h["value"]) for h in back["headers"]] == [("h", b"\xff"), ("n", None)]


def test_a_feature_modules_exception_is_named_in_the_dead_letter_headers(router, raw_factory, signup):
    raw = raw_factory(signup, partition=1, offset=7)
    try:
        {}["amount"]
    except KeyError as exc:
        err = FeatureError("feature_error", f"KeyError: {exc}", raw=raw, event_type="user_signed_up")
        err.__cause__ = exc
    out = router.quarantined(Rejected(raw, err.reason()), PROCESSED)
    headers = lineage(out.headers)
    assert headers["__streams.errors.exception"] == b"KeyError"
    assert b"Traceback" in headers["__streams.errors.stacktrace"]
    assert headers["__streams.errors.offset"] == b"7"
    assert decode_json_output(out.value)["stage"] == "features"
