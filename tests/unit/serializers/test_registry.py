"""Confluent framing, subjects, and Avro schema resolution checked once per writer schema."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from confluent_kafka.schema_registry.error import SchemaRegistryError

from helpers.records import T0
from processor.config import PROJECT_ROOT, ProcessingSettings, SchemaRegistrySettings, load_pipelines
from processor.messages import RawMessage
from processor.serializers.registry import (
    CONFLUENT_HEADER_SIZE,
    frame,
    full_name,
    is_unavailable,
    make_client,
    resolution_problem,
    subject_for,
)
from processor.serializers.schemas import SchemaStore
from processor.stages.decode import Decoder

INPUT = PROJECT_ROOT / "schemas" / "input"


def schema(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((INPUT / f"{name}.avsc").read_text())
    return loaded


def without(s: dict[str, Any], field: str) -> dict[str, Any]:
    out = copy.deepcopy(s)
    out["fields"] = [f for f in out["fields"] if f["name"] != field]
    return out


def retyped(s: dict[str, Any], field: str, kind: Any) -> dict[str, Any]:
    out = copy.deepcopy(s)
    for f in out["fields"]:
        if f["name"] == field:
            f["type"] = kind
    return out


# -- framing and subjects ------------------------------------------------------------------------


def test_frame_is_magic_zero_then_the_id_big_endian() -> None:
    framed = frame(0x01020304, b"payload")
    assert framed[:CONFLUENT_HEADER_SIZE] == b"\x00\x01\x02\x03\x04"
    assert framed[CONFLUENT_HEADER_SIZE:] == b"payload"
    assert frame(2**32 - 1, b"")[1:] == b"\xff\xff\xff\xff"


def test_subjects_under_both_strategies() -> None:
    v1 = schema("user_signed_up.v1")
    assert full_name(v1) == "processor.events.UserSignedUp"
    assert subject_for("record", "events.raw", v1) == "processor.events.UserSignedUp"
    assert subject_for("topic", "events.raw", v1) == "events.raw-value"
    assert full_name({"name": "a.b.C", "namespace": "ignored"}) == "a.b.C"


# -- resolution ------------------------------------------------------------------------------------


def test_an_older_and_a_newer_version_resolve_both_ways() -> None:
    v1, v2 = schema("user_signed_up.v1"), schema("user_signed_up.v2")
    assert resolution_problem(v1, v2, "") is None  # referral_code has a default
    assert resolution_problem(v2, v1, "") is None  # extra writer fields are skipped


def test_a_required_reader_field_the_writer_lacks_is_named() -> None:
    problem = resolution_problem(without(schema("user_signed_up.v2"), "country"), schema("user_signed_up.v2"), "")
    assert problem is not None
    assert problem[0] == "country"
    assert "no default" in problem[1]


def test_promotions_resolve_and_narrowing_does_not() -> None:
    reader = retyped(schema("user_signed_up.v2"), "signup_duration_ms", "double")
    assert resolution_problem(schema("user_signed_up.v2"), reader, "") is None  # long -> double
    narrowed = retyped(schema("user_signed_up.v2"), "signup_duration_ms", "int")
    assert resolution_problem(schema("user_signed_up.v2"), narrowed, "") == (
        "signup_duration_ms",
        "written as long, read as int",
    )
    assert resolution_problem("int", ["null", "long"], "x") is None
    assert resolution_problem("bytes", "string", "x") is None


def test_a_writer_union_branch_the_reader_cannot_take_is_named() -> None:
    writer = retyped(schema("user_signed_up.v2"), "age_years", ["null", "int", "string"])
    problem = resolution_problem(writer, schema("user_signed_up.v2"), "")
    assert problem is not None and problem[0] == "age_years"
    assert "union" in problem[1]


def test_nested_records_enums_arrays_and_maps() -> None:
    def rec(item: Any) -> dict[str, Any]:
        return {"type": "record", "name": "R", "fields": [{"name": "xs", "type": {"type": "array", "items": item}}]}

    assert resolution_problem(rec("int"), rec("long"), "") is None
    assert resolution_problem(rec("string"), rec("int"), "") == ("xs[]", "written as string, read as int")
    enum_w = {"type": "enum", "name": "E", "symbols": ["A", "B", "C"]}
    enum_r = {"type": "enum", "name": "E", "symbols": ["A", "B"]}
    assert resolution_problem(enum_w, enum_r, "e") == ("e", "enum symbols ['C'] are unknown to the reader")
    assert resolution_problem(enum_w, {**enum_r, "default": "A"}, "e") is None
    assert resolution_problem({"type": "map", "values": "int"}, {"type": "map", "values": "string"}, "m") == (
        "m{}",
        "written as int, read as string",
    )
    assert resolution_problem(
        {"type": "record", "name": "A", "fields": []}, {"type": "record", "name": "B", "fields": []}, "r"
    ) == (
        "r",
        "written as A, read as B",
    )


# -- what counts as "the registry cannot be asked" -------------------------------------------------


@pytest.mark.parametrize(
    ("exc", "unavailable"),
    [
        (httpx.ConnectError("refused"), True),
        (httpx.ReadTimeout("slow"), True),
        (SchemaRegistryError(503, 50003, "down"), True),
        (SchemaRegistryError(401, 40101, "who are you"), True),
        (SchemaRegistryError(404, 40403, "Schema not found"), False),
        (SchemaRegistryError(409, 409, "incompatible"), False),
        (ValueError("bug"), False),
    ],
)
def test_unavailable_means_could_not_ask(exc: Exception, unavailable: bool) -> None:
    assert is_unavailable(exc) is unavailable


def test_the_client_carries_basic_auth_and_does_not_retry_itself() -> None:
    settings = SchemaRegistrySettings(url="http://registry:8085/apis/ccompat/v7", username="u", password="p:w")
    client = make_client(settings)
    assert client._rest_client.max_retries == 0  # the processor's own wait loop retries
    assert client._rest_client.session.auth is not None
    with pytest.raises(ValueError, match="not set"):
        make_client(SchemaRegistrySettings())


def test_settings_refuse_a_password_in_the_url() -> None:
    with pytest.raises(ValueError, match="password"):
        SchemaRegistrySettings(url="http://u:secret@registry:8085")
    with pytest.raises(ValueError, match="http"):
        SchemaRegistrySettings(url="registry:8085")


# -- the decode stage without a registry -----------------------------------------------------------


def _raw(value: bytes) -> RawMessage:
    return RawMessage(topic="events.raw", partition=0, offset=7, key=b"k", value=value, headers=(), timestamp_ms=T0)


def test_framed_input_without_a_registry_is_quarantined_as_not_configured(tmp_path: Path) -> None:
    decoder = Decoder(
        SchemaStore(PROJECT_ROOT / "schemas"),
        load_pipelines(PROJECT_ROOT / "config" / "pipelines.yaml"),
        ProcessingSettings(),
    )
    events, rejected = decoder.decode_batch([_raw(frame(1, b"\x02"))])
    assert events == []
    assert (rejected[0].reason.stage, rejected[0].reason.code) == ("decode", "schema_registry_not_configured")
    assert rejected[0].raw.value == frame(1, b"\x02")


def test_a_transport_error_of_a_renamed_httpx_counts_as_unavailable() -> None:
    # confluent_kafka's client may run on an httpx fork with its own module name (httpx2 here)
    class TransportError(Exception):
        pass

    class ConnectError(TransportError):
        pass

    assert is_unavailable(ConnectError("refused"))


def test_avro_registry_outputs_need_a_registry_url() -> None:
    from processor.config import load_settings
    from processor.errors import ConfigError

    with pytest.raises(ConfigError, match=r"avro-registry needs schema_registry\.url"):
        load_settings(outputs={"format": "avro-registry"})
    settings = load_settings(
        outputs={"format": "avro-registry"}, schema_registry={"url": "http://r:8085/apis/ccompat/v7"}
    )
    assert settings.outputs.format == "avro-registry"
    assert settings.schema_registry.subject_strategy == "record"
    assert settings.schema_registry.compatibility == "BACKWARD"


def test_register_plans_input_versions_in_order_then_the_outputs() -> None:
    from processor.config import load_settings
    from processor.errors import ConfigError
    from processor.serializers.register_cli import candidates

    plan = candidates(load_settings(schema_registry={"url": "http://r:1"}), "all")
    labels = [c.label for c in plan]
    assert labels.index("input/user_signed_up.v1.avsc") < labels.index("input/user_signed_up.v2.avsc")
    assert labels[-3:] == ["output/scored.avsc", "output/review.avsc", "output/quarantine.avsc"]
    assert {c.subject for c in plan if c.label.startswith("input/user")} == {"processor.events.UserSignedUp"}
    topic = load_settings(schema_registry={"url": "http://r:1", "subject_strategy": "topic"})
    assert [c.subject for c in candidates(topic, "output")] == [
        "events.scored-value",
        "events.review-value",
        "events.quarantine-value",
    ]
    with pytest.raises(ConfigError, match="cannot be versions of one subject"):
        candidates(topic, "input")
