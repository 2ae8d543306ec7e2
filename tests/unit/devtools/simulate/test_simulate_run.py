"""run_simulate: what the CLI and the demo call."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from processor.config import Settings
from processor.devtools.simulate import SimulationSummary, run_simulate
from processor.devtools.simulate import run as run_module
from processor.devtools.simulate.sinks import DeliveryReport
from processor.errors import ConfigError


def test_to_files(settings: Settings, tmp_path: Path):
    out = tmp_path / "history.jsonl"
    summary = run_simulate(
        settings,
        count=5_000,
        seed=3,
        faults_spec="default",
        out=out,
        topic=None,
        types=None,
        span_s=3600.0,
    )
    assert isinstance(summary, SimulationSummary)
    assert summary.count == 5_000 and summary.ok
    assert sum(summary.by_expected.values()) == 5_000
    assert summary.by_expected["quarantine"] == sum(summary.by_quarantine.values())
    assert set(summary.by_type) == {"user_signed_up", "jira_ticket_created", "document_uploaded"}
    events, labels, manifest = summary.files
    assert events == out
    assert labels == tmp_path / "history.labels.jsonl"
    assert manifest == tmp_path / "history.manifest.jsonl"
    assert len(events.read_bytes().splitlines()) == 5_000 - summary.skipped_not_json
    assert len(manifest.read_bytes().splitlines()) == 5_000
    assert len(labels.read_bytes().splitlines()) == sum(summary.labels.values())
    text = str(summary)
    assert "simulated 5,000 messages" in text and "quarantine:" in text and str(out) in text


def test_training_data_is_clean_and_labelled(settings: Settings, tmp_path: Path):
    out = tmp_path / "document_uploaded.history.jsonl"
    summary = run_simulate(
        settings,
        count=1_000,
        seed=1000,
        faults_spec="none",
        out=out,
        topic=None,
        types=("document_uploaded",),
        span_s=14 * 86_400.0,
    )
    assert summary.by_expected == {"valid": 1_000}
    rows = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    assert {r["event_type"] for r in rows} == {"document_uploaded"}
    assert max(r["occurred_at"] for r in rows) - min(r["occurred_at"] for r in rows) > 13 * 86_400_000


def test_to_kafka(settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    calls: list[dict[str, Any]] = []

    def fake_produce(messages, *, topic, client_config):  # type: ignore[no-untyped-def]
        calls.append({"n": len(messages), "topic": topic, "config": client_config})
        return DeliveryReport(
            topic, len(messages), len(messages), 0, (), tuple((0, i) for i in range(len(messages))), 0.1
        )

    monkeypatch.setattr(run_module, "produce_to_kafka", fake_produce)
    manifest = tmp_path / "truth.jsonl"
    summary = run_simulate(
        settings,
        count=300,
        seed=1,
        faults_spec=None,
        out=None,
        topic=None,
        types=None,
        span_s=60.0,
        manifest=manifest,
    )
    assert calls == [{"n": 300, "topic": settings.topics.raw, "config": settings.kafka.client_config()}]
    assert summary.delivered == 300 and summary.failed == 0 and summary.ok
    assert summary.destination.startswith(f"Kafka topic {settings.topics.raw}")
    assert orjson.loads(manifest.read_bytes().splitlines()[5])["offset"] == 5
    assert "delivered:  300 of 300" in str(summary)


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"faults_spec": "dup=2"}, "invalid_faults"),
        ({"faults_spec": "nonsense=0.1"}, "invalid_faults"),
        ({"types": ("user_signed_up", "order_placed")}, "unknown_event_type"),
        ({"count": -1}, "invalid_simulation"),
    ],
)
def test_bad_arguments_are_config_errors(settings: Settings, tmp_path: Path, kwargs, code):
    args: dict[str, Any] = {
        "count": 10,
        "seed": 1,
        "faults_spec": None,
        "out": tmp_path / "x.jsonl",
        "topic": None,
        "types": None,
        "span_s": 60.0,
    } | kwargs
    with pytest.raises(ConfigError) as info:
        run_simulate(settings, **args)
    assert info.value.code == code


def test_twenty_thousand_events_generate_well_under_five_seconds(settings: Settings, tmp_path: Path):
    summary = run_simulate(
        settings,
        count=20_000,
        seed=7,
        faults_spec="default",
        out=tmp_path / "demo.jsonl",
        topic=None,
        types=None,
        span_s=600.0,
    )
    assert summary.generate_s < 5.0, summary.generate_s
