"""A review item (one record of ``events.review``) and the choices a reviewer has for it."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import orjson

from processor.config import PipelinesConfig, ReviewSettings
from processor.serializers.outputs import decode_registry_output
from processor.serializers.registry import CONFLUENT_MAGIC

#: Fields a review record must carry for a reviewer to decide it (schemas/output/review.avsc).
_REQUIRED = ("event_id", "event_type", "entity_id", "occurred_at", "processed_at", "decision", "review_reason")
#: event_ids longer than this are not ids; the processor never emits them (decode caps them).
MAX_EVENT_ID_CHARS = 512


class ReviewRecordError(ValueError):
    """A record on the review topic that cannot become a review item: ``code`` says why."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class Position:
    """Where the review record sits in Kafka: the human decision names it as its lineage."""

    topic: str
    partition: int
    offset: int


@dataclass(frozen=True, slots=True)
class ReviewItem:
    event_id: str
    event_type: str
    entity_id: str
    occurred_at: int
    processed_at: int
    decision: str
    category: str | None
    score: float | None
    confidence: float | None
    decision_source: str
    rule_ids: tuple[str, ...]
    model_version: str | None
    late: bool
    reason: str | None
    review_reason: str
    features: dict[str, float | None]
    event: str
    position: Position | None = None
    #: The gateway client that sent the event and its route (``ingest-client``/``ingest-route``
    #: headers, carried by the processor); None for events produced to Kafka directly.
    client: str | None = None
    route: str | None = None

    def to_json(self) -> bytes:
        return orjson.dumps(asdict(self))

    @classmethod
    def from_json(cls, data: bytes) -> ReviewItem:
        raw = orjson.loads(data)
        pos = raw.pop("position", None)
        raw["rule_ids"] = tuple(raw.get("rule_ids") or ())
        return cls(**raw, position=Position(**pos) if pos else None)

    def event_fields(self) -> dict[str, Any] | None:
        """The embedded event as a mapping, or None when it is not a JSON object."""
        try:
            value = orjson.loads(self.event)
        except orjson.JSONDecodeError:
            return None
        return value if isinstance(value, dict) else None


@dataclass(frozen=True, slots=True)
class Choice:
    """One decision a reviewer can make: the decision on events.scored and the label for training."""

    decision: str
    label: str
    category: str | None = None


@dataclass(frozen=True, slots=True)
class Choices:
    """Per event type, from the pipeline's bands and the review settings' label map."""

    by_type: dict[str, tuple[Choice, ...]] = field(default_factory=dict)

    @classmethod
    def build(cls, pipelines: PipelinesConfig, settings: ReviewSettings) -> Choices:
        out: dict[str, tuple[Choice, ...]] = {}
        for name, config in pipelines.event_types.items():
            bands = config.decision.sorted_bands()
            overrides = settings.labels.get(name, {})
            seen: dict[str, Choice] = {}
            for i, band in enumerate(bands):
                if band.decision in seen:
                    continue
                default = config.positive_label if i == 0 else f"not_{config.positive_label}"
                seen[band.decision] = Choice(band.decision, overrides.get(band.decision, default), band.category)
            out[name] = tuple(seen.values())
        return cls(out)

    def for_type(self, event_type: str) -> tuple[Choice, ...]:
        """A type no pipeline knows (any more) can still be decided: approve or block."""
        return self.by_type.get(event_type, (Choice("block", "block"), Choice("approve", "approve")))

    def find(self, event_type: str, decision: str) -> Choice | None:
        return next((c for c in self.for_type(event_type) if c.decision == decision), None)


def parse_review_record(
    value: bytes | None, position: Position | None = None, headers: Mapping[str, bytes | None] | None = None
) -> ReviewItem:
    """A review record (JSON, or ``avro-registry`` Avro) to an item; bad records raise ReviewRecordError."""
    if value is None:
        raise ReviewRecordError("tombstone", "the review record has no value")
    if value.startswith(CONFLUENT_MAGIC):  # outputs.format avro-registry
        try:
            record = decode_registry_output("review", value, headers or {})
        except ValueError as exc:
            raise ReviewRecordError("invalid_avro", f"not a review record: {exc}") from exc
    else:
        try:
            record = orjson.loads(value)
        except orjson.JSONDecodeError as exc:
            raise ReviewRecordError("invalid_json", f"not JSON: {exc}") from exc
    if not isinstance(record, dict):
        raise ReviewRecordError("not_an_object", "the review record is not a JSON object")
    missing = [name for name in _REQUIRED if record.get(name) in (None, "")]
    if missing:
        raise ReviewRecordError("missing_field", f"missing {', '.join(missing)}")
    try:
        event_id = _text(record, "event_id")
        if len(event_id) > MAX_EVENT_ID_CHARS:
            raise ReviewRecordError("bad_field", f"event_id longer than {MAX_EVENT_ID_CHARS} characters")
        features = record.get("features") or {}
        if not isinstance(features, dict):
            raise ReviewRecordError("bad_field", "features is not a map")
        event = record.get("event", "")
        if isinstance(event, bytes):  # Avro-decoded records hand bytes through
            event = base64.b64encode(event).decode()
        return ReviewItem(
            event_id=event_id,
            event_type=_text(record, "event_type"),
            entity_id=_text(record, "entity_id"),
            occurred_at=_int(record, "occurred_at"),
            processed_at=_int(record, "processed_at"),
            decision=_text(record, "decision"),
            category=_opt_text(record, "category"),
            score=_opt_float(record, "score"),
            confidence=_opt_float(record, "confidence"),
            decision_source=str(record.get("decision_source") or "unknown"),
            rule_ids=tuple(str(r) for r in record.get("rule_ids") or ()),
            model_version=_opt_text(record, "model_version"),
            late=bool(record.get("late", False)),
            reason=_opt_text(record, "reason"),
            review_reason=_text(record, "review_reason"),
            features={str(k): (None if v is None else float(v)) for k, v in features.items()},
            event=event if isinstance(event, str) else orjson.dumps(event).decode(),
            position=position,
            client=_header(headers, "ingest-client"),
            route=_header(headers, "ingest-route"),
        )
    except (TypeError, ValueError) as exc:
        if isinstance(exc, ReviewRecordError):
            raise
        raise ReviewRecordError("bad_field", str(exc)) from exc


def priority_of(review_reason: str, settings: ReviewSettings) -> int:
    """Lower is more urgent: the full reason first, then its kind (``rule`` of ``rule:<id>``)."""
    if review_reason in settings.priorities:
        return settings.priorities[review_reason]
    return settings.priorities.get(review_reason.split(":", 1)[0], settings.default_priority)


def _text(record: dict[str, Any], name: str) -> str:
    value = record[name]
    if not isinstance(value, str):
        raise ReviewRecordError("bad_field", f"{name} is not a string")
    return value


def _opt_text(record: dict[str, Any], name: str) -> str | None:
    value = record.get(name)
    return None if value is None else str(value)


def _int(record: dict[str, Any], name: str) -> int:
    value = record[name]
    if isinstance(value, bool) or not isinstance(value, int):
        raise ReviewRecordError("bad_field", f"{name} is not an integer (epoch ms)")
    return value


def _opt_float(record: dict[str, Any], name: str) -> float | None:
    value = record.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ReviewRecordError("bad_field", f"{name} is not a number")
    return float(value)


def _header(headers: Mapping[str, bytes | None] | None, name: str) -> str | None:
    value = (headers or {}).get(name)
    return value.decode("utf-8", errors="replace")[:200] if isinstance(value, bytes) else None
