"""The decode stage against the real registry: confluent_kafka's AvroSerializer in, resolved events out."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient

from helpers.net import free_port
from helpers.records import T0, run_signup
from helpers.registry import INPUT_SCHEMAS, avro_serializer, serialize, unique_topic
from processor.config import PROJECT_ROOT, ProcessingSettings, SchemaRegistrySettings, load_pipelines
from processor.messages import RawMessage
from processor.serializers.registry import RegistryUnavailable, WriterSchemas, frame, make_client
from processor.serializers.schemas import SchemaStore
from processor.stages.decode import Decoder


def _decoder(url: str) -> tuple[Decoder, WriterSchemas]:
    schemas = SchemaStore(PROJECT_ROOT / "schemas")
    writers = WriterSchemas(make_client(SchemaRegistrySettings(url=url)), schemas)
    pipelines = load_pipelines(PROJECT_ROOT / "config" / "pipelines.yaml")
    return Decoder(schemas, pipelines, ProcessingSettings(), writers), writers


def _raws(values: list[bytes]) -> list[RawMessage]:
    return [
        RawMessage(topic="events.raw", partition=0, offset=i, key=b"k", value=v, timestamp_ms=T0)
        for i, v in enumerate(values)
    ]


def _v1(record: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in record.items() if k != "referral_code"}
    out["schema_version"] = None  # a registry producer need not say: the schema id does
    return out


def _register_variant(client: SchemaRegistryClient, subject: str, schema: dict[str, Any]) -> int:
    return client.register_schema(subject, Schema(json.dumps(schema), "AVRO"))


def test_two_versions_from_avro_serializer_resolve_with_one_fetch_per_id(
    registry_url: str, registry_client: SchemaRegistryClient
) -> None:
    topic = unique_topic()
    v1 = avro_serializer(registry_client, "user_signed_up.v1.avsc")
    v2 = avro_serializer(registry_client, "user_signed_up.v2.avsc")
    records = [run_signup("dec", i, T0 + i) for i in range(20)]
    for r in records[10:]:
        r["referral_code"] = f"ref-{r['event_id']}"
    values = [serialize(v1, topic, _v1(r)) for r in records[:10]] + [serialize(v2, topic, r) for r in records[10:]]
    assert values[0][:1] == b"\x00" and values[0][1:5] != values[-1][1:5]  # two schema ids on the wire
    decoder, writers = _decoder(registry_url)

    events, rejected = decoder.decode_batch(_raws(values))

    assert rejected == []
    assert [e.event_id for e in events] == [r["event_id"] for r in records]
    assert {e.encoding for e in events} == {"avro"}
    assert [e.schema_version for e in events] == [1] * 10 + [2] * 10  # fingerprints match schemas/input
    assert events[0].record["referral_code"] is None  # v1 read as v2: the reader's default
    assert events[15].record["referral_code"] == f"ref-{records[15]['event_id']}"
    assert events[3].record["occurred_at"] == T0 + 3  # epoch ms, not a datetime
    assert writers.fetches == 2
    decoder.decode_batch(_raws(values))
    assert writers.fetches == 2  # cached by id: never a request per event


def test_an_unknown_id_is_quarantined_with_the_bytes(registry_url: str) -> None:
    decoder, _ = _decoder(registry_url)
    value = frame(2_000_000_000, b"\x02\x04")
    events, rejected = decoder.decode_batch(_raws([value]))
    assert events == []
    error = rejected[0].reason
    assert (error.stage, error.code) == ("decode", "unknown_schema_id")
    assert "2000000000" in error.message
    assert rejected[0].raw.value == value


@pytest.mark.parametrize(
    ("change", "field"),
    [("drop_country", "country"), ("email_as_int", "email")],
)
def test_a_writer_that_cannot_resolve_is_quarantined_naming_the_field(
    registry_url: str, registry_client: SchemaRegistryClient, change: str, field: str
) -> None:
    schema = json.loads((INPUT_SCHEMAS / "user_signed_up.v2.avsc").read_text())
    variant = copy.deepcopy(schema)
    if change == "drop_country":
        variant["fields"] = [f for f in variant["fields"] if f["name"] != "country"]
    else:
        for f in variant["fields"]:
            if f["name"] == "email":
                f["type"] = "int"
    schema_id = _register_variant(registry_client, f"{unique_topic()}-value", variant)
    decoder, _ = _decoder(registry_url)
    events, rejected = decoder.decode_batch(_raws([frame(schema_id, b"")]))
    assert events == []
    error = rejected[0].reason
    assert (error.stage, error.code, error.field) == ("schema", "schema_unresolvable", field)
    assert "user_signed_up" in error.message


def test_a_record_no_reader_knows_is_quarantined(registry_url: str, registry_client: SchemaRegistryClient) -> None:
    other = {"type": "record", "name": "Unrelated", "namespace": "elsewhere", "fields": [{"name": "x", "type": "int"}]}
    schema_id = _register_variant(registry_client, f"{unique_topic()}-value", other)
    decoder, _ = _decoder(registry_url)
    _, rejected = decoder.decode_batch(_raws([frame(schema_id, b"\x02")]))
    assert (rejected[0].reason.stage, rejected[0].reason.code) == ("schema", "unknown_record_name")
    assert "elsewhere.Unrelated" in rejected[0].reason.message


def test_an_unreachable_registry_raises_instead_of_quarantining() -> None:
    decoder, _ = _decoder(f"http://127.0.0.1:{free_port()}/apis/ccompat/v7")
    with pytest.raises(RegistryUnavailable):
        decoder.decode_batch(_raws([frame(1, b"\x02")]))
