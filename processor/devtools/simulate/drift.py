"""Injected drift: the same valid events, with the data quietly changed underneath the model.

``processor simulate --drift shift=3,new_categories=0.5,nulls=0.3`` takes a generated stream and,
in its valid events (and the duplicates that copy them):

- ``shift=F``: multiplies every plain numeric field (not the envelope, not timestamps) by ``F``,
  kept inside the type's semantic checks (``config/pipelines.yaml``) so the events still pass
  validation: this is drift, not bad input;
- ``new_categories=R``: with probability ``R`` per event, puts a value never seen before into each
  of the type's categorical fields (a new device, a new MIME type...); fields whose check lists
  the allowed values (``one_of``) are left alone, they would be quarantined;
- ``nulls=R``: with probability ``R`` per event, sets every nullable field (besides the envelope)
  to null: a null burst from an upstream that stopped sending them.

The events stay valid, so the processor scores them: only the drift gauges and alerts notice.
Deterministic for a seed.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import orjson

from processor.config import PipelinesConfig
from processor.devtools.simulate.encoding import AvroEncoder, to_json
from processor.devtools.simulate.stream import SimulatedMessage
from processor.serializers.schemas import SchemaStore

DRIFT_KINDS = ("shift", "new_categories", "nulls")
_ENVELOPE = frozenset({"event_id", "event_type", "schema_version", "occurred_at", "entity_id", "sequence", "source"})
#: Fields that hold a category (a small vocabulary) per type: where a new category can appear.
CATEGORICAL_FIELDS: Mapping[str, tuple[str, ...]] = {
    "user_signed_up": ("device_type", "marketing_source", "plan"),
    "document_uploaded": ("mime_type", "detected_mime_type"),
    "jira_ticket_created": ("issue_type", "priority"),
}
_NEW_CATEGORIES = ("drift-a", "drift-b", "drift-c")


@dataclass(frozen=True, slots=True)
class DriftSpec:
    shift: float = 1.0
    new_categories: float = 0.0
    nulls: float = 0.0

    @classmethod
    def parse(cls, spec: str) -> DriftSpec:
        """``kind=value,...`` with kinds from ``DRIFT_KINDS``; ``ValueError`` names what is wrong."""
        values: dict[str, float] = {}
        for part in (p.strip() for p in spec.split(",")):
            if not part:
                continue
            kind, sep, raw = part.partition("=")
            kind = kind.strip()
            if kind not in DRIFT_KINDS:
                raise ValueError(f"unknown drift kind {kind!r}: choose from {', '.join(DRIFT_KINDS)}")
            try:
                value = float(raw) if sep else {"shift": 3.0}.get(kind, 0.5)
            except ValueError:
                raise ValueError(f"drift {kind}: {raw!r} is not a number") from None
            if kind == "shift" and value <= 0:
                raise ValueError(f"drift shift must be a positive factor, got {value}")
            if kind != "shift" and not 0.0 <= value <= 1.0:
                raise ValueError(f"drift {kind} is a probability in [0, 1], got {value}")
            values[kind] = value
        if not values:
            raise ValueError(f"empty drift spec {spec!r}: e.g. shift=3,new_categories=0.5,nulls=0.3")
        return cls(**values)

    def __str__(self) -> str:
        return f"shift={self.shift:g},new_categories={self.new_categories:g},nulls={self.nulls:g}"


class _Drifter:
    def __init__(self, spec: DriftSpec, schemas: SchemaStore, pipelines: PipelinesConfig | None, seed: int) -> None:
        self._spec = spec
        self._schemas = schemas
        self._pipelines = pipelines
        self._rng = random.Random(f"{seed}:drift")
        self._avro = AvroEncoder(schemas)
        self._plans: dict[str, tuple[list[tuple[str, float, float, bool]], list[str], list[str]]] = {}

    def _plan(self, event_type: str) -> tuple[list[tuple[str, float, float, bool]], list[str], list[str]]:
        """(numeric fields with their allowed range and int-ness, categorical fields, nullable fields)."""
        plan = self._plans.get(event_type)
        if plan is not None:
            return plan
        schema = self._schemas.latest(event_type)
        cfg = self._pipelines.event_types.get(event_type) if self._pipelines else None
        bounds = {c.field: (c.min, c.max) for c in cfg.checks} if cfg else {}
        closed = {c.field for c in cfg.checks if c.one_of} if cfg else set()
        numeric, nullable = [], []
        for name, definition in schema.fields.items():
            if name in _ENVELOPE:
                continue
            types = definition["type"] if isinstance(definition["type"], list) else [definition["type"]]
            if "null" in types:
                nullable.append(name)
            plain = [t for t in types if t != "null"]
            if len(plain) == 1 and plain[0] in ("int", "long", "float", "double"):
                low, high = bounds.get(name, (None, None))
                numeric.append(
                    (
                        name,
                        float("-inf") if low is None else low,
                        float("inf") if high is None else high,
                        plain[0] in ("int", "long"),
                    )
                )
        categorical = [f for f in CATEGORICAL_FIELDS.get(event_type, ()) if f in schema.fields and f not in closed]
        plan = (numeric, categorical, nullable)
        self._plans[event_type] = plan
        return plan

    def drift(self, record: dict[str, Any]) -> dict[str, Any]:
        spec, rng = self._spec, self._rng
        numeric, categorical, nullable = self._plan(str(record["event_type"]))
        out = dict(record)
        if spec.shift != 1.0:
            for name, low, high, integral in numeric:
                value = out.get(name)
                if isinstance(value, int | float) and not isinstance(value, bool):
                    shifted = min(high, max(low, value * spec.shift))
                    out[name] = round(shifted) if integral else shifted
        if spec.new_categories and rng.random() < spec.new_categories:
            for name in categorical:
                if name in out:
                    out[name] = rng.choice(_NEW_CATEGORIES)
        if spec.nulls and rng.random() < spec.nulls:
            for name in nullable:
                if name in out:  # an older writer schema may not have the field at all
                    out[name] = None
        return out

    def apply(self, message: SimulatedMessage) -> SimulatedMessage:
        if message.as_json is None or message.value is None:
            return message
        if message.encoding == "avro":
            record = self.drift(orjson.loads(message.as_json))
            return replace(message, value=self._avro.encode(record), as_json=to_json(record))
        record = self.drift(orjson.loads(message.value))
        value = to_json(record)
        return replace(message, value=value, as_json=value)


def apply_drift(
    messages: Sequence[SimulatedMessage],
    spec: DriftSpec,
    *,
    schemas: SchemaStore,
    pipelines: PipelinesConfig | None = None,
    seed: int = 1,
) -> list[SimulatedMessage]:
    """The stream with drift injected into its valid events; a duplicate repeats its drifted original."""
    drifter = _Drifter(spec, schemas, pipelines, seed)
    drifted: dict[str, SimulatedMessage] = {}
    out = []
    for message in messages:
        if message.expected == "duplicate" and message.event_id in drifted:
            original = drifted[message.event_id]
            message = replace(message, value=original.value, as_json=original.as_json)
        elif message.expected in ("valid", "late") and message.event_type in CATEGORICAL_FIELDS:
            message = drifter.apply(message)
            if message.event_id is not None:
                drifted[message.event_id] = message
        out.append(message)
    return out
