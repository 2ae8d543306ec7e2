"""Plain helpers behind the sample records of ``tests/conftest.py`` and a minimal test-only event type.

Test modules cannot import a conftest (importlib import mode), so what they share besides
fixtures lives here: ``from helpers.records import T0``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orjson

from processor.config import PipelinesConfig
from processor.messages import Event, RawMessage

T0 = 1_717_200_000_000  # 2024-06-01T00:00:00Z: when every sample record happens
HOUR = 3_600_000


def envelope(
    event_type: str,
    event_id: str,
    entity_id: str,
    *,
    schema_version: int,
    source: str,
    sequence: int | None = None,
    occurred_at: int = T0,
) -> dict[str, Any]:
    """The envelope fields every input schema starts with, in schema order."""
    return {
        "event_id": event_id,
        "event_type": event_type,
        "schema_version": schema_version,
        "occurred_at": occurred_at,
        "entity_id": entity_id,
        "sequence": sequence,
        "source": source,
    }


#: The fields of ``sensor_read`` v1, a tiny type whose event time is a plain long (no logical types).
SENSOR_FIELDS: tuple[dict[str, Any], ...] = (
    {"name": "event_id", "type": "string"},
    {"name": "event_type", "type": "string"},
    {"name": "schema_version", "type": ["null", "int"], "default": None},
    {"name": "occurred_at", "type": "long"},
    {"name": "entity_id", "type": "string"},
    {"name": "value", "type": "double"},
)


def write_sensor_schema(root: Path, version: int, extra_fields: Iterable[dict[str, Any]] = ()) -> Path:
    """``<root>/input/sensor_read.v<version>.avsc``: ``SENSOR_FIELDS`` plus ``extra_fields``."""
    schema = {"type": "record", "name": "SensorRead", "fields": [*SENSOR_FIELDS, *extra_fields]}
    path = root / "input" / f"sensor_read.v{version}.avsc"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(schema))
    return path


def sensor_pipelines(**config: Any) -> PipelinesConfig:
    """A pipeline file with ``sensor_read`` only: one decision band, plus ``config`` (validation, checks)."""
    decision = {"bands": [{"min_score": 0.0, "decision": "ok"}]}
    return PipelinesConfig.model_validate({"event_types": {"sensor_read": {**config, "decision": decision}}})


def sensor_record(**fields: Any) -> dict[str, Any]:
    """A ``sensor_read`` record at ``T0``; ``fields`` add to or replace its defaults."""
    return {"event_id": "s-1", "event_type": "sensor_read", "occurred_at": T0, "entity_id": "dev-1", **fields}


def run_signup(run: str, i: int, occurred_at: int, *, plan: str = "pro") -> dict[str, Any]:
    """A valid user_signed_up (latest schema, every field) for integration streams: ids carry ``run``."""
    return {
        **envelope(
            "user_signed_up",
            f"{run}-su-{i}",
            f"{run}-user-{i}",
            schema_version=2,
            source="web",
            occurred_at=occurred_at,
        ),
        "email": f"person{i}@example.com",
        "country": "DE",
        "ip_address": f"203.0.113.{i % 250}",
        "ip_country": "DE",
        "device_type": "desktop",
        "user_agent": "Mozilla/5.0",
        "plan": plan,
        "marketing_source": "organic",
        "age_years": 30,
        "signup_duration_ms": 15_000,
        "email_verified": True,
        "referral_code": None,
    }


def buffered_event(
    offset: int,
    occurred_at: int,
    *,
    entity: str = "e-1",
    event_type: str = "user_signed_up",
    sequence: int | None = None,
    partition: int = 0,
    topic: str = "events.raw",
    extra: dict[str, Any] | None = None,
) -> Event:
    """A valid event as the reorder stage receives it (after decode and validate)."""
    record = {
        "event_id": f"{event_type}-{offset}",
        "event_type": event_type,
        "schema_version": 2,
        "occurred_at": occurred_at,
        "entity_id": entity,
        "sequence": sequence,
        **(extra or {}),
    }
    raw = RawMessage(topic, partition, offset, entity.encode(), orjson.dumps(record), (), T0)
    return Event(
        raw=raw,
        record=record,
        event_id=record["event_id"],
        event_type=event_type,
        entity_id=entity,
        occurred_at=occurred_at,
        sequence=sequence,
        schema_version=2,
        encoding="json",
    )
