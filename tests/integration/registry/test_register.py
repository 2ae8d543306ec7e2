"""`processor schemas register` against the real registry: publish, re-run, refuse an incompatible version."""

from __future__ import annotations

import io
import json
import shutil
import uuid
from pathlib import Path

import pytest
from confluent_kafka.schema_registry import SchemaRegistryClient

from processor.config import PROJECT_ROOT, Settings, load_settings
from processor.errors import ConfigError
from processor.serializers.register_cli import register


def _schemas_in_own_namespace(root: Path) -> tuple[Path, str]:
    """A copy of schemas/ (the input schemas) whose records live in a namespace of their own: subjects no other test uses."""
    ns = f"it{uuid.uuid4().hex[:8]}"
    target = root / "schemas"
    shutil.copytree(PROJECT_ROOT / "schemas", target)
    for path in target.rglob("*.avsc"):
        schema = json.loads(path.read_text())
        schema["namespace"] = f"{ns}.{schema['namespace']}"
        path.write_text(json.dumps(schema))
    return target, ns


def _settings(registry_url: str, schemas_dir: Path, **registry: str) -> Settings:
    return load_settings(schema_registry={"url": registry_url, **registry}, schemas_dir=str(schemas_dir))


def test_register_publishes_versions_in_order_then_refuses_an_incompatible_one(
    registry_url: str, registry_client: SchemaRegistryClient, tmp_path: Path
) -> None:
    schemas_dir, ns = _schemas_in_own_namespace(tmp_path)
    settings = _settings(registry_url, schemas_dir)
    out = io.StringIO()
    assert register(settings, "all", out=out) == 0, out.getvalue()
    subject = f"{ns}.processor.events.UserSignedUp"
    assert registry_client.get_versions(subject) == [1, 2]
    assert registry_client.get_compatibility(subject) == "BACKWARD"
    # the output schemas ship inside the package (one namespace for every test): registered by
    # whichever test came first, unchanged for the others
    assert "processor.outputs.ScoredEvent" in registry_client.get_subjects()
    first = out.getvalue()
    assert first.count("registered, id") >= 4 and first.count("registered, id") + first.count("unchanged, id") == 7

    again = io.StringIO()
    assert register(settings, "all", out=again) == 0
    assert again.getvalue().count("unchanged, id") == 7  # idempotent

    v3 = json.loads((schemas_dir / "input" / "user_signed_up.v2.avsc").read_text())
    v3["fields"].append({"name": "tenant", "type": "string"})  # required, no default: old data cannot be read
    (schemas_dir / "input" / "user_signed_up.v3.avsc").write_text(json.dumps(v3))
    refused = io.StringIO()
    assert register(settings, "input", out=refused) == 1
    text = refused.getvalue()
    assert "REFUSED" in text and "user_signed_up.v3.avsc" in text and "BACKWARD" in text
    assert "tenant" in text  # the registry's own explanation names the field
    assert registry_client.get_versions(subject) == [1, 2]


def test_topic_strategy_subjects_and_its_limit(registry_url: str, tmp_path: Path) -> None:
    schemas_dir, _ = _schemas_in_own_namespace(tmp_path)
    run = uuid.uuid4().hex[:8]
    settings = load_settings(
        schema_registry={"url": registry_url, "subject_strategy": "topic"},
        schemas_dir=str(schemas_dir),
        topics={
            "raw": f"it.{run}.raw",
            "scored": f"it.{run}.scored",
            "review": f"it.{run}.review",
            "quarantine": f"it.{run}.quarantine",
        },
    )
    with pytest.raises(ConfigError, match="subject_strategy record"):
        register(settings, "input", out=io.StringIO())
    out = io.StringIO()
    assert register(settings, "output", out=out) == 0
    assert f"it.{run}.scored-value" in out.getvalue() and f"it.{run}.quarantine-value" in out.getvalue()
