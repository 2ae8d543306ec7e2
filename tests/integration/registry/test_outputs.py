"""avro-registry outputs: what the router writes, read back by confluent_kafka's AvroDeserializer."""

from __future__ import annotations

import uuid

from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext

from helpers.records import T0
from processor.config import PROJECT_ROOT, SchemaRegistrySettings, TopicsSettings
from processor.errors import DecodeError
from processor.messages import Decision, Event, RawMessage, Rejected, Scored
from processor.serializers.outputs import OutputEncoder
from processor.serializers.registry import FramedReader, OutputSchemaIds, make_client
from processor.serializers.schemas import SchemaStore
from processor.stages.route import Router


def _router(registry_url: str) -> tuple[Router, TopicsSettings]:
    run = uuid.uuid4().hex[:8]
    topics = TopicsSettings(
        raw=f"it.{run}.raw", scored=f"it.{run}.scored", review=f"it.{run}.review", quarantine=f"it.{run}.quarantine"
    )
    schemas = SchemaStore(PROJECT_ROOT / "schemas")
    ids = OutputSchemaIds(make_client(SchemaRegistrySettings(url=registry_url)), schemas.output_json, "topic")
    return Router(topics, OutputEncoder(schemas, "avro-registry", ids)), topics


def test_quarantine_and_review_records_round_trip_through_the_registry(
    registry_url: str, registry_client: SchemaRegistryClient
) -> None:
    router, topics = _router(registry_url)
    raw = RawMessage(topics.raw, 2, 41, b"key", b"\x00\x00\x00\x00\x07\xff", (("h", b"\x00\x01"), ("n", None)), T0)
    quarantined = router.quarantined(Rejected(raw, DecodeError("unknown_schema_id", "no schema 7").reason()), T0 + 5)
    assert quarantined.value[:1] == b"\x00"
    assert dict(quarantined.headers)["content-type"] == b"application/vnd.confluent.avro"
    deserializer = AvroDeserializer(registry_client)
    record = deserializer(quarantined.value, SerializationContext(topics.quarantine, MessageField.VALUE))
    assert (record["stage"], record["error_code"]) == ("decode", "unknown_schema_id")
    assert record["value"] == raw.value and record["key"] == b"key"  # the original bytes, exactly
    assert record["headers"] == [{"key": "h", "value": b"\x00\x01"}, {"key": "n", "value": None}]
    assert record["source_offset"] == 41

    event = Event(
        raw=raw,
        record={"event_id": "e-1", "event_type": "user_signed_up"},
        event_id="e-1",
        event_type="user_signed_up",
        entity_id="u-1",
        occurred_at=T0,
        sequence=None,
        schema_version=2,
        encoding="avro",
    )
    decision = Decision("review", None, 0.5, 0.1, "model", "m-1", "review", review_reason="uncertain")
    review = router.scored(Scored(event, decision, {"f": 1.0, "g": None}), T0 + 9)
    assert review.topic == topics.review
    record = deserializer(review.value, SerializationContext(topics.review, MessageField.VALUE))
    assert record["event_id"] == "e-1" and record["review_reason"] == "uncertain"
    assert record["features"] == {"f": 1.0, "g": None}
    # the audit's reader (no logical types) agrees with the deserializer
    plain = FramedReader(make_client(SchemaRegistrySettings(url=registry_url))).read(review.value)
    assert plain["occurred_at"] == T0 and plain["event_id"] == "e-1"
    assert f"{topics.review}-value" in registry_client.get_subjects()
