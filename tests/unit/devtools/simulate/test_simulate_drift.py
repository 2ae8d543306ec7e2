from __future__ import annotations

import orjson
import pytest

from processor.config import load_pipelines, load_settings
from processor.devtools.simulate import FaultMix, simulate
from processor.devtools.simulate.drift import DriftSpec, apply_drift
from processor.serializers.schemas import SchemaStore

TYPES = ("user_signed_up", "document_uploaded", "jira_ticket_created")


def _records(messages) -> list[dict]:  # type: ignore[no-untyped-def]
    return [orjson.loads(m.as_json) for m in messages if m.as_json is not None]


@pytest.fixture(scope="module")
def stream(store: SchemaStore):  # type: ignore[no-untyped-def]
    return simulate(1_500, seed=3, types=TYPES, faults=FaultMix.parse("duplicate=0.05"), schemas=store)


def _drift(stream, store: SchemaStore, spec: str):  # type: ignore[no-untyped-def]
    pipelines = load_pipelines(load_settings().pipelines_file)
    return apply_drift(stream, DriftSpec.parse(spec), schemas=store, pipelines=pipelines, seed=3)


def test_drifted_events_stay_valid(stream, store: SchemaStore, run_stages) -> None:  # type: ignore[no-untyped-def]
    drifted = _drift(stream, store, "shift=5,new_categories=0.5,nulls=0.5")
    assert run_stages(drifted) == run_stages(stream)  # drift, not bad input: same outcomes
    assert [m.expected for m in drifted] == [m.expected for m in stream]


def test_shift_moves_numbers_within_the_checks(stream, store: SchemaStore) -> None:  # type: ignore[no-untyped-def]
    before = [r for r in _records(stream) if r["event_type"] == "user_signed_up" and r["age_years"] is not None]
    after = {r["event_id"]: r for r in _records(_drift(stream, store, "shift=3"))}
    for record in before:
        age = after[record["event_id"]]["age_years"]
        assert age == min(120, record["age_years"] * 3)
        assert after[record["event_id"]]["signup_duration_ms"] == min(86_400_000, record["signup_duration_ms"] * 3)


def test_new_categories_and_null_bursts(stream, store: SchemaStore) -> None:  # type: ignore[no-untyped-def]
    records = [
        r
        for r in _records(_drift(stream, store, "new_categories=0.5,nulls=0.4"))
        if r["event_type"] == "user_signed_up"
    ]
    new_devices = sum(r["device_type"].startswith("drift-") for r in records) / len(records)
    assert 0.35 < new_devices < 0.65
    assert all(r["plan"] in ("free", "pro", "business", "enterprise") for r in records)  # one_of: never drifted
    no_agent = sum(r["user_agent"] is None for r in records) / len(records)
    assert 0.3 < no_agent < 0.55


def test_duplicates_repeat_their_drifted_original(stream, store: SchemaStore) -> None:  # type: ignore[no-untyped-def]
    drifted = _drift(stream, store, "shift=2,new_categories=1")
    by_id = {m.event_id: m for m in drifted if m.expected == "valid"}
    duplicates = [m for m in drifted if m.expected == "duplicate"]
    assert duplicates
    assert all(m.value == by_id[m.event_id].value for m in duplicates)


@pytest.mark.parametrize("spec", ["", "tilt=1", "shift=-1", "nulls=2", "shift=abc"])
def test_bad_specs_are_refused_with_a_reason(spec: str) -> None:
    with pytest.raises(ValueError, match="drift"):
        DriftSpec.parse(spec)
