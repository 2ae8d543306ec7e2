"""The records that flow between stages. Frozen and slotted: stages return new values, never mutate."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from processor.raw_message import Headers as Headers
from processor.raw_message import RawMessage as RawMessage
from processor.reason import Reason as Reason


@dataclass(frozen=True, slots=True)
class Event:
    """A decoded record whose envelope has been read. ``record`` holds every field of the event."""

    raw: RawMessage
    record: dict[str, Any]
    event_id: str
    event_type: str
    entity_id: str
    occurred_at: int
    sequence: int | None
    schema_version: int | None
    encoding: str  # "json" or "avro"
    late: bool = False
    coercions: tuple[str, ...] = ()

    @property
    def order_key(self) -> tuple[int, int, int]:
        """Release order inside one partition: event time, then producer sequence, then input offset."""
        return (self.occurred_at, self.sequence if self.sequence is not None else -1, self.raw.offset)


@dataclass(frozen=True, slots=True)
class Rejected:
    """A bad record as a value (bytewax's ``errs`` stream): it will become one quarantine record."""

    raw: RawMessage
    reason: Reason


@dataclass(frozen=True, slots=True)
class Decision:
    """What the decide stage concluded about one event."""

    decision: str
    category: str | None
    score: float | None
    confidence: float | None
    decision_source: str  # model | rule | fallback | human
    model_version: str | None
    route: str  # "scored" or "review"
    reason: str | None = None
    review_reason: str | None = None
    rule_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Scored:
    """An event with its features and decision, ready to route."""

    event: Event
    decision: Decision
    features: dict[str, float | None] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class OutputRecord:
    """One record to produce inside the batch's transaction."""

    topic: str
    key: bytes | None
    value: bytes
    headers: Headers = ()
