"""``processor init``: the skeleton a team starts from works as written."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from processor.cli import main
from processor.config import load_pipelines, load_settings
from processor.features import load_feature_module
from processor.messages import RawMessage
from processor.serializers.avro import encode_single_object
from processor.serializers.schemas import SchemaStore
from processor.stages.decode import Decoder
from processor.stages.validate import Validator


@pytest.fixture
def project(tmp_path: Path, clean_env: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "payments"
    assert main(["init", str(root), "--event-type", "payment_authorized"]) == 0
    return root


def test_the_skeleton_holds_a_project(project: Path) -> None:
    for relative in (
        "pipelines.yaml",
        "schemas/input/payment_authorized.v1.avsc",
        "features/payment_authorized.py",
        "sample_data.py",
        "produce.py",
        "README.md",
        "models",
    ):
        assert (project / relative).exists(), relative
    readme = (project / "README.md").read_text()
    for command in ("processor train --event-type payment_authorized", "processor model promote", "processor run"):
        assert command in readme


def test_the_skeleton_loads_and_its_sample_data_passes_every_check(project: Path) -> None:
    settings = load_settings(project_dir=project)
    pipelines = load_pipelines(settings.pipelines_file)
    schemas = SchemaStore(settings.schemas_dir)
    schema = schemas.latest("payment_authorized")
    module = load_feature_module("payment_authorized", features_dir=settings.features_dir, schema_fields=schema.fields)
    out = subprocess.run(
        [sys.executable, "sample_data.py", "--count", "300", "--out", "data"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    events = [json.loads(line) for line in (project / "data" / "events.jsonl").read_text().splitlines()]
    labels = [json.loads(line) for line in (project / "data" / "labels.jsonl").read_text().splitlines()]
    assert {label["label"] for label in labels} == {"positive", "negative"}
    assert [label["event_id"] for label in labels] == [e["event_id"] for e in events]
    decoder = Decoder(schemas, pipelines, settings.processing)
    validator = Validator(schemas, pipelines, settings.processing)
    raws = [RawMessage("t", 0, i, None, json.dumps(e).encode()) for i, e in enumerate(events[:150])]
    record = {f: events[0].get(f, spec.get("default")) for f, spec in schema.fields.items()}
    raws.append(RawMessage("t", 0, 150, None, encode_single_object(schema, record)))
    decoded, rejected = decoder.decode_batch(raws)
    assert rejected == []
    valid, rejected = validator.validate_batch(decoded)
    assert [r.error for r in rejected] == []
    assert len(valid) == 151
    assert decoded[-1].record["event_id"] == events[0]["event_id"]  # the Avro one
    rows = [module.compute(e.record, {}) for e in valid]
    assert all(len(row) == len(module.FEATURE_NAMES) for row in rows)


def test_init_refuses_a_bad_name_and_a_non_empty_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["init", str(tmp_path / "x"), "--event-type", "Payment-Authorized"]) == 2
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    assert main(["init", str(tmp_path / "busy"), "--event-type", "payment"]) == 2
    assert "not empty" in capsys.readouterr().err
    assert (tmp_path / "busy" / "notes.txt").read_text() == "mine"
