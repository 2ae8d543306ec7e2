"""validate: schema conformance (strict or tolerant per type), semantic checks, event-time sanity."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from helpers.records import T0, sensor_pipelines, sensor_record, write_sensor_schema
from processor.config import EventTypeConfig, PipelinesConfig, ProcessingSettings
from processor.errors import ConfigError
from processor.messages import Event, Rejected
from processor.serializers.avro import encode_single_object
from processor.serializers.schemas import SchemaStore
from processor.stages.decode import Decoder
from processor.stages.validate import Validator, check_config_fields

NOW_MS = T0 + 3_600_000
DAY_MS = 86_400_000


@pytest.fixture
def run(decoder: Decoder, validator: Validator, raw_factory):
    """JSON record -> decoded -> validated; returns (ok, rejected) for one input."""

    def go(record: dict[str, Any], now_ms: int = NOW_MS) -> tuple[list[Event], list[Rejected]]:
        raw = raw_factory(record)
        events, rejected = decoder.decode_batch([raw])
        assert rejected == [], [(r.reason.code, r.reason.message) for r in rejected]
        ok, bad = validator.validate_batch(events, now_ms)
        for item in bad:
            assert item.raw is raw
        return ok, bad

    return go


def valid(run, record: dict[str, Any], now_ms: int = NOW_MS) -> Event:
    ok, bad = run(record, now_ms)
    assert bad == [], [(r.reason.stage, r.reason.code, r.reason.field, r.reason.message) for r in bad]
    assert len(ok) == 1
    return ok[0]


def invalid(run, record: dict[str, Any], stage: str, code: str, field: str | None, now_ms: int = NOW_MS) -> Rejected:
    ok, bad = run(record, now_ms)
    assert ok == []
    assert len(bad) == 1
    err = bad[0].reason
    assert (err.stage, err.code, err.field) == (stage, code, field), err.message
    assert err.event_type == record["event_type"]
    assert err.event_id == record["event_id"]
    return bad[0]


def test_policies_in_the_pipeline_file(pipelines):
    """The tests below rely on these policies; fail loudly if the file changes under them."""
    policies = {name: cfg.validation for name, cfg in pipelines.event_types.items()}
    assert policies == {"user_signed_up": "tolerant", "jira_ticket_created": "strict", "document_uploaded": "strict"}


@pytest.mark.parametrize("fixture", ["signup", "jira", "document"])
def test_valid_records_pass_unchanged(run, request, fixture):
    record = request.getfixturevalue(fixture)
    event = valid(run, dict(record))
    assert event.record == record
    assert event.coercions == ()


# -- schema ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("fixture", "name"), [("jira", "summary"), ("document", "sha256"), ("signup", "email")])
def test_missing_required_field(run, request, fixture, name):
    record = request.getfixturevalue(fixture)
    del record[name]
    rejected = invalid(run, record, "schema", "missing_field", name)
    assert rejected.reason.exception == "processor.errors.SchemaError"


@pytest.mark.parametrize(
    ("fixture", "name", "value"),
    [
        ("jira", "priority", 5),
        ("jira", "summary", None),
        ("jira", "components", "yarn"),
        ("jira", "created", "last tuesday"),
        ("document", "size_bytes", "42"),
        ("document", "size_bytes", 1.5),
        ("document", "size_bytes", True),
        ("document", "page_count", "2"),
        ("signup", "signup_duration_ms", "fast"),
        ("signup", "email_verified", "yes"),
        ("signup", "signup_duration_ms", [1]),
    ],
)
def test_wrong_type(run, request, fixture, name, value):
    record = request.getfixturevalue(fixture)
    record[name] = value
    ok, bad = run(record)
    assert ok == []
    err = bad[0].reason
    assert err.stage == "schema"
    assert err.field == name
    assert err.code == "wrong_type"


def test_wrong_type_inside_an_array_names_the_element(run, jira):
    jira["components"] = ["yarn", 5]
    invalid(run, jira, "schema", "wrong_type", "components[1]")


def test_unknown_field_in_a_strict_type(run, jira):
    jira["bogus"] = 1
    invalid(run, jira, "schema", "unknown_field", "bogus")


def test_unknown_fields_in_a_tolerant_type_are_dropped_and_recorded(run, signup):
    signup["bogus"] = 1
    signup["utm"] = {"campaign": "x"}
    event = valid(run, signup)
    assert "bogus" not in event.record
    assert "utm" not in event.record
    assert "dropped:bogus" in event.coercions
    assert "dropped:utm" in event.coercions


def test_tolerant_coercions_are_applied_and_recorded(run, signup):
    signup["age_years"] = "42"
    signup["email_verified"] = "true"
    signup["signup_duration_ms"] = 1500.0
    signup["country"] = "DE"
    event = valid(run, signup)
    assert event.record["age_years"] == 42
    assert event.record["email_verified"] is True
    assert event.record["signup_duration_ms"] == 1500
    assert isinstance(event.record["signup_duration_ms"], int)
    assert set(event.coercions) == {"age_years", "email_verified", "signup_duration_ms"}


def test_false_string_coerces_to_false(run, signup):
    signup["email_verified"] = "FALSE"
    assert valid(run, signup).record["email_verified"] is False


def test_strict_types_do_not_coerce(run, document):
    document["size_bytes"] = "120000"
    invalid(run, document, "schema", "wrong_type", "size_bytes")


def test_defaults_are_filled(run, signup, jira):
    for name in ("email_verified", "user_agent", "referral_code", "marketing_source", "source", "sequence"):
        del signup[name]
    event = valid(run, signup)
    assert event.record["email_verified"] is False
    assert event.record["user_agent"] is None
    assert event.record["referral_code"] is None
    assert event.coercions == ()  # a default is not a coercion

    for name in ("components", "labels", "affects_versions", "status", "description"):
        del jira[name]
    record = valid(run, jira).record
    assert record["components"] == [] and record["labels"] == [] and record["affects_versions"] == []
    assert record["status"] == "Open"
    assert record["description"] is None


@pytest.mark.parametrize(("value", "code"), [(2**31, "integer_overflow"), (-(2**31) - 1, "integer_overflow")])
def test_int_out_of_32_bit_range(run, document, value, code):
    document["page_count"] = value
    invalid(run, document, "schema", code, "page_count")


def test_int_at_the_32_bit_edge_passes_the_schema(run, document):
    document["page_count"] = 2**31 - 1
    # the schema accepts it; the configured range check (max 100000) is what rejects it
    invalid(run, document, "semantic", "out_of_range", "page_count")


def test_long_out_of_64_bit_range(run, signup):
    signup["signup_duration_ms"] = str(2**63)
    invalid(run, signup, "schema", "integer_overflow", "signup_duration_ms")


def test_rfc3339_string_for_a_timestamp_field(run, jira):
    jira["created"] = "2024-06-01T02:00:00+02:00"
    assert valid(run, jira).record["created"] == T0


def test_naive_timestamp_string_for_a_timestamp_field(run, jira):
    jira["created"] = "2024-06-01T00:00:00"
    invalid(run, jira, "schema", "wrong_type", "created")


def test_validated_event_keeps_its_raw_message(run, signup):
    event = valid(run, signup)
    assert event.raw.value is not None and b'"su-1"' in event.raw.value


# -- semantic checks from config/pipelines.yaml --------------------------------------------------


@pytest.mark.parametrize(
    ("fixture", "name", "value", "code"),
    [
        ("signup", "age_years", 500, "out_of_range"),
        ("signup", "age_years", 12, "out_of_range"),
        ("signup", "signup_duration_ms", -1, "out_of_range"),
        ("document", "size_bytes", 104_857_601, "out_of_range"),
        ("document", "sha256", "A" * 64, "bad_format"),
        ("document", "sha256", "a" * 63, "bad_format"),
        ("document", "sha256", "a" * 64 + "\n", "bad_format"),
        ("signup", "email", "not-an-email", "bad_format"),
        ("signup", "country", "de", "bad_format"),
        ("signup", "country", "DEU", "bad_format"),
        ("jira", "issue_key", "hadoop-1", "bad_format"),
        ("signup", "plan", "gold", "not_allowed_value"),
        ("jira", "priority", "Urgent", "not_allowed_value"),
        ("document", "upload_status", "OK", "not_allowed_value"),
        ("signup", "user_agent", "x" * 2001, "too_long"),
        ("document", "file_name", "f" * 256, "too_long"),
        ("jira", "summary", "s" * 1001, "too_long"),
    ],
)
def test_semantic_checks(run, request, fixture, name, value, code):
    record = request.getfixturevalue(fixture)
    record[name] = value
    rejected = invalid(run, record, "semantic", code, name)
    assert rejected.reason.exception == "processor.errors.SemanticError"


@pytest.mark.parametrize(
    ("fixture", "name", "value"),
    [
        ("signup", "age_years", 13),
        ("signup", "age_years", 120),
        ("signup", "age_years", None),
        ("document", "size_bytes", 0),
        ("document", "size_bytes", 104_857_600),
        ("document", "file_name", "f" * 255),
        ("signup", "user_agent", "x" * 2000),
    ],
)
def test_semantic_boundaries_pass(run, request, fixture, name, value):
    record = request.getfixturevalue(fixture)
    record[name] = value
    valid(run, record)


def test_coerced_value_is_still_range_checked(run, signup):
    signup["age_years"] = "500"
    invalid(run, signup, "semantic", "out_of_range", "age_years")


# -- event time ----------------------------------------------------------------------------------


@pytest.mark.parametrize("occurred_at", [946_684_799_999, 1_717_200_000, 0, -1])
def test_occurred_at_before_2000(run, signup, occurred_at):
    signup["occurred_at"] = occurred_at
    invalid(run, signup, "semantic", "occurred_at_out_of_range", "occurred_at")


def test_occurred_at_at_2000_is_fine(run, signup):
    signup["occurred_at"] = 946_684_800_000
    valid(run, signup)


def test_occurred_at_in_the_far_future(run, signup, settings):
    skew = settings.processing.max_future_skew_ms
    signup["occurred_at"] = NOW_MS + skew + 1
    invalid(run, signup, "semantic", "occurred_at_in_future", "occurred_at")
    signup["occurred_at"] = NOW_MS + skew
    valid(run, signup)
    signup["occurred_at"] = "2999-01-01T00:00:00Z"
    invalid(run, signup, "semantic", "occurred_at_in_future", "occurred_at")


def test_future_check_uses_the_wall_clock_by_default(decoder, validator, raw_factory, signup):
    signup["occurred_at"] = 32_503_680_000_000  # year 3000
    events, _ = decoder.decode_batch([raw_factory(signup)])
    ok, bad = validator.validate_batch(events)
    assert ok == [] and bad[0].reason.code == "occurred_at_in_future"


# -- schema evolution ----------------------------------------------------------------------------


def test_v1_json_is_projected_to_v2(run, signup):
    del signup["referral_code"]
    signup["schema_version"] = 1
    event = valid(run, signup)
    assert "referral_code" in event.record and event.record["referral_code"] is None
    assert event.record["schema_version"] == 1
    assert event.schema_version == 1
    assert list(event.record) == [f["name"] for f in json.loads(_schema_text("user_signed_up.v2.avsc"))["fields"]]


def test_v2_field_in_a_v1_json_record_is_dropped_when_tolerant(run, signup):
    # the record claims v1, which lacks referral_code; the tolerant policy drops the unknown field
    signup["schema_version"] = 1
    event = valid(run, signup)
    assert event.record["referral_code"] is None
    assert "dropped:referral_code" in event.coercions


def test_unknown_schema_version(run, jira):
    jira["schema_version"] = 9
    invalid(run, jira, "schema", "unknown_schema_version", "schema_version")


def test_absent_version_means_latest(run, signup):
    del signup["schema_version"]
    assert valid(run, signup).record["schema_version"] == 2


def _schema_text(name: str) -> str:
    from processor.config import PROJECT_ROOT

    return (PROJECT_ROOT / "schemas" / "input" / name).read_text()


# -- Avro-decoded records ------------------------------------------------------------------------


def sensor_setup(root: Path) -> tuple[SchemaStore, PipelinesConfig]:
    """A type with a double field and a plain-long event time (Avro end to end, no logical types)."""
    write_sensor_schema(root, 1, [{"name": "history", "type": {"type": "array", "items": "double"}, "default": []}])
    pipelines = sensor_pipelines(validation="strict", checks=[{"field": "value", "min": -50, "max": 50}])
    return SchemaStore(root), pipelines


@pytest.mark.parametrize(
    ("value", "history", "field"),
    [
        (math.nan, [], "value"),
        (math.inf, [], "value"),
        (-math.inf, [], "value"),
        (1.0, [0.5, math.nan], "history[1]"),
    ],
)
def test_non_finite_number_in_an_avro_record(tmp_path, raw_factory, value, history, field):
    store, pipelines = sensor_setup(tmp_path)
    settings = ProcessingSettings()
    decoder, validator = Decoder(store, pipelines, settings), Validator(store, pipelines, settings)
    record = sensor_record(value=value, history=history)
    events, rejected = decoder.decode_batch([raw_factory(encode_single_object(store.get("sensor_read", 1), record))])
    assert rejected == [] and events[0].encoding == "avro"
    ok, bad = validator.validate_batch(events, NOW_MS)
    assert ok == []
    assert (bad[0].reason.stage, bad[0].reason.code, bad[0].reason.field) == ("semantic", "non_finite_number", field)

    record["value"], record["history"] = 1.0, [0.5]
    events, _ = decoder.decode_batch([raw_factory(encode_single_object(store.get("sensor_read", 1), record))])
    ok, bad = validator.validate_batch(events, NOW_MS)
    assert bad == [] and ok[0].record["value"] == 1.0


def test_avro_records_get_the_semantic_checks(tmp_path, raw_factory):
    store, pipelines = sensor_setup(tmp_path)
    settings = ProcessingSettings()
    decoder, validator = Decoder(store, pipelines, settings), Validator(store, pipelines, settings)
    record = sensor_record(entity_id="d", value=99.0)
    events, _ = decoder.decode_batch([raw_factory(encode_single_object(store.get("sensor_read", 1), record))])
    ok, bad = validator.validate_batch(events, NOW_MS)
    assert ok == []
    assert (bad[0].reason.stage, bad[0].reason.code, bad[0].reason.field) == ("semantic", "out_of_range", "value")
    record["occurred_at"] = 1_000
    events, _ = decoder.decode_batch([raw_factory(encode_single_object(store.get("sensor_read", 1), record))])
    _, bad = validator.validate_batch(events, NOW_MS)
    assert bad[0].reason.code == "occurred_at_out_of_range"


def test_avro_event_with_non_finite_number_built_directly(validator, decoder, raw_factory, signup):
    """The validator trusts Avro records' shape but still scans them for NaN and infinities."""
    events, _ = decoder.decode_batch([raw_factory(signup)])
    event = replace(events[0], encoding="avro", record={**signup, "extra_metric": {"x": [math.nan]}})
    ok, bad = validator.validate_batch([event], NOW_MS)
    assert ok == []
    assert (bad[0].reason.code, bad[0].reason.field) == ("non_finite_number", "extra_metric.x[0]")


# -- batches and config --------------------------------------------------------------------------


def test_batch_keeps_order_and_accounts_for_everything(decoder, validator, raw_factory, signup, jira, document):
    bad_jira = dict(jira, event_id="jira-2", priority="Urgent")
    bad_doc = dict(document, event_id="doc-2", bogus=True)
    raws = [raw_factory(r) for r in (signup, bad_jira, jira, bad_doc, document)]
    events, rejected = decoder.decode_batch(raws)
    assert rejected == []
    ok, bad = validator.validate_batch(events, NOW_MS)
    assert [e.event_id for e in ok] == ["su-1", "jira-1", "doc-1"]
    assert [(r.raw, r.reason.event_id, r.reason.code) for r in bad] == [
        (raws[1], "jira-2", "not_allowed_value"),
        (raws[3], "doc-2", "unknown_field"),
    ]


def test_check_config_fields(schema_store, pipelines):
    for name, cfg in pipelines.event_types.items():
        check_config_fields(name, cfg, schema_store.latest(cfg.schema_name or name))  # the real file is consistent
    cfg = EventTypeConfig.model_validate(
        {"checks": [{"field": "emial", "max_length": 5}], "decision": {"bands": [{"min_score": 0.0, "decision": "x"}]}}
    )
    with pytest.raises(ConfigError) as info:
        check_config_fields("user_signed_up", cfg, schema_store.latest("user_signed_up"))
    assert info.value.code == "unknown_check_field"
    assert "emial" in info.value.message
    assert info.value.stage == "config"


def test_a_schema_freed_and_its_id_reused_gets_its_own_field_plan():
    # CPython hands a freed dict's address to the next one of its size: a cache keyed by id() alone
    # would read the first schema's fields for every later one.
    from processor.stages.validate import _plan

    for i in range(50):
        schema: dict[str, Any] = {"type": "record", "name": f"R{i}", "fields": [{"name": f"f{i}", "type": "int"}]}
        plans, known = _plan(schema)
        assert [p.name for p in plans] == [f"f{i}"] and known == {f"f{i}"}
        del schema
