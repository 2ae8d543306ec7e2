"""Training reads Avro container files through the same decode path as JSONL, with the same result."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import fastavro

from processor.config import PipelinesConfig, load_settings
from processor.serializers.schemas import SchemaStore
from processor.training.sources import AvroFile, read_label_file
from processor.training.training import train_model

NOW = datetime(2024, 7, 15, tzinfo=UTC)


def test_avro_file_trains_the_same_model_as_jsonl(
    tmp_path: Path, pipelines: PipelinesConfig, schema_store: SchemaStore, jsonl: Any, make_signups: Any
) -> None:
    events = [e for e in make_signups(400) if e["schema_version"] == 2]
    labels = jsonl(tmp_path / "labels.jsonl", [{"event_id": e["event_id"], "label": e["label"]} for e in events])
    records = [{k: v for k, v in e.items() if k != "label"} for e in events]
    json_path = jsonl(tmp_path / "events.jsonl", records)
    schema = json.loads((schema_store.root / "input" / "user_signed_up.v2.avsc").read_text())
    avro_path = tmp_path / "events.avro"
    with avro_path.open("wb") as handle:
        fastavro.writer(handle, fastavro.parse_schema(schema), records)

    runs = []
    for name, source in (("json", None), ("avro", AvroFile(avro_path, schema_store))):
        settings = load_settings(models={"dir": tmp_path / name})
        runs.append(
            train_model(
                event_type="user_signed_up",
                events_path=json_path if source is None else None,
                labels_path=labels,
                source=source,
                settings=settings,
                pipelines=pipelines,
                now=NOW,
            )
        )
    from_json, from_avro = runs
    assert from_avro.data.rows == from_json.data.rows == len(events)
    assert from_avro.data.skipped_invalid == 0
    assert from_avro.artifact.model_path.read_text() == from_json.artifact.model_path.read_text()
    assert from_avro.artifact.metadata()["data"]["source"].startswith("avro:")


def test_label_file_later_lines_win(tmp_path: Path) -> None:
    path = tmp_path / "labels.jsonl"
    path.write_text('{"event_id": "a", "label": "x"}\n{"event_id": "a", "label": "y"}\nnot json\n{"label": "z"}\n')
    assert read_label_file(path) == ({"a": "y"}, 2)
