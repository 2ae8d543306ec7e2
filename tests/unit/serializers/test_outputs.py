"""OutputEncoder: JSON (bytes as base64) and registry-framed Avro against processor/schemas/output/*.avsc."""

from __future__ import annotations

import io
import json
import random
from typing import Any

import fastavro
import orjson
import pytest

from processor.config import PROJECT_ROOT
from processor.review.items import ReviewRecordError, parse_review_record
from processor.serializers.outputs import OutputEncoder, decode_json_output, decode_registry_output

T0 = 1_717_200_000_000


def quarantine(
    value: bytes | None, key: bytes | None = b"k", headers: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    return {
        "stage": "decode",
        "error_code": "invalid_utf8",
        "error_message": "value is not UTF-8",
        "field": None,
        "event_type": None,
        "event_id": None,
        "key": key,
        "value": value,
        "headers": headers
        if headers is not None
        else [{"key": "h", "value": b"\x00\xff"}, {"key": "n", "value": None}],
        "source_topic": "events.raw",
        "source_partition": 1,
        "source_offset": 12,
        "source_timestamp": None,
        "quarantined_at": T0,
        "processor_version": "1.2.3",
    }


SAMPLES: dict[str, dict[str, Any]] = {
    "scored": {
        "event_id": "e",
        "event_type": "user_signed_up",
        "entity_id": "u",
        "occurred_at": T0,
        "processed_at": T0 + 1,
        "decision": "approve",
        "category": None,
        "score": 0.25,
        "confidence": 0.75,
        "decision_source": "model",
        "rule_ids": ["r1"],
        "model_version": "v1",
        "late": False,
        "reason": None,
    },
    "feedback": {
        "event_id": "e",
        "event_type": "user_signed_up",
        "label": "fraud",
        "reviewer": "alice",
        "decided_at": T0,
        "note": "obvious",
    },
    "quarantine": quarantine(b"\xff\x00"),
}
SAMPLES["review"] = {
    **SAMPLES["scored"],
    "review_reason": "confidence_band",
    "features": {"a": 1.5, "b": None},
    "event": '{"event_id": "e"}',
}


def schema_fields(name: str) -> list[str]:
    return [
        f["name"]
        for f in json.loads((PROJECT_ROOT / "processor" / "schemas" / "output" / f"{name}.avsc").read_text())["fields"]
    ]


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_samples_cover_every_output_field(name):
    assert list(SAMPLES[name]) == schema_fields(name)


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_avro_output_round_trip(schema_store, name):
    encoder = OutputEncoder(schema_store, "avro-registry", _AssignedIds())
    assert encoder.content_type == b"application/vnd.confluent.avro"
    value = encoder.encode(name, SAMPLES[name], f"events.{name}")
    assert value[:5] == b"\x00\x00\x00\x00\x29"  # magic byte, schema id 41
    buf = io.BytesIO(value[5:])
    back = fastavro.schemaless_reader(buf, schema_store.outputs[name], return_record_name=False)
    assert buf.tell() == len(value) - 5
    timestamps = {"occurred_at", "processed_at", "decided_at", "quarantined_at"}
    for field, expected in SAMPLES[name].items():
        got = back[field]
        if field in timestamps:
            got = int(got.timestamp() * 1000)
        assert got == expected, field


def test_avro_output_rejects_a_record_off_its_schema(schema_store):
    encoder = OutputEncoder(schema_store, "avro-registry", _AssignedIds())
    with pytest.raises((ValueError, TypeError)):
        encoder.encode("scored", {**SAMPLES["scored"], "score": "high"}, "events.scored")


@pytest.mark.parametrize("name", ["scored", "review", "feedback"])
def test_json_output_is_plain_json(schema_store, name):
    encoder = OutputEncoder(schema_store)
    assert encoder.content_type == b"application/json"
    value = encoder.encode(name, SAMPLES[name])
    assert orjson.loads(value) == SAMPLES[name]
    assert decode_json_output(value) == SAMPLES[name]


_rng = random.Random(7)
BYTE_VALUES = [
    b"",
    b"\x00",
    b"\xff\xfe\xfd",
    bytes(range(256)),
    "h\u00e9llo \u202e".encode(),
    b"\xc3\x01" + bytes(8),
    bytes(_rng.getrandbits(8) for _ in range(4096)),
    None,
]


@pytest.mark.parametrize("value", BYTE_VALUES)
@pytest.mark.parametrize("key", [None, b"", b"\x80user"])
def test_quarantine_json_round_trips_arbitrary_bytes(schema_store, value, key):
    headers = [{"key": "a", "value": value}, {"key": "b", "value": b""}, {"key": "c", "value": None}]
    record = quarantine(value, key, headers)
    encoded = OutputEncoder(schema_store).encode("quarantine", record)
    as_json = orjson.loads(encoded)  # valid JSON, whatever the bytes were
    assert as_json["stage"] == "decode"
    assert decode_json_output(encoded) == record


def test_quarantine_json_does_not_mutate_the_input(schema_store):
    record = quarantine(b"\xff")
    snapshot = dict(record, headers=[dict(h) for h in record["headers"]])
    OutputEncoder(schema_store).encode("quarantine", record)
    assert record == snapshot


def test_quarantine_json_with_no_headers(schema_store):
    record = quarantine(b"x", headers=[])
    assert decode_json_output(OutputEncoder(schema_store).encode("quarantine", record)) == record


class _AssignedIds:
    """The schema ids a registry assigned to the outputs (the real registry: tests/integration/registry)."""

    def id_for(self, schema_name: str, topic: str) -> int:
        return 41


def _registry_output(schema_store, name: str) -> tuple[bytes, dict[str, bytes | None]]:
    encoder = OutputEncoder(schema_store, "avro-registry", _AssignedIds())
    value = encoder.encode(name, SAMPLES[name], f"events.{name}")
    assert value[:5] == b"\x00\x00\x00\x00\x29"
    return value, dict(encoder.schema_headers(name))


def test_own_registry_outputs_read_back_without_a_registry(schema_store):
    """The quarantine tools and the review app read avro-registry outputs by their schema headers."""
    value, headers = _registry_output(schema_store, "quarantine")
    assert decode_registry_output("quarantine", value, headers) == SAMPLES["quarantine"]
    value, headers = _registry_output(schema_store, "review")
    item = parse_review_record(value, headers=headers)
    assert (item.event_id, item.occurred_at, item.processed_at, item.review_reason) == (
        "e",
        T0,
        T0 + 1,
        "confidence_band",
    )


def test_a_registry_output_of_another_schema_version_is_refused_not_misread(schema_store):
    value, headers = _registry_output(schema_store, "review")
    newer = {**headers, "processor-schema-version": b"99"}
    with pytest.raises(ValueError, match="version"):
        decode_registry_output("review", value, newer)
    with pytest.raises(ReviewRecordError) as refused:
        parse_review_record(value, headers=newer)
    assert refused.value.code == "invalid_avro"
    with pytest.raises(ValueError):
        decode_registry_output("review", value[:9], headers)
