"""Assemble a simulated stream: interleave the types, apply the fault mix, record the truth.

``simulate`` works in two passes. The *plan* decides, per position, which fault (if any) goes
there and which event type it carries, so the number of Jira tickets is known before the replay
starts (a wrapped replay must know how many cycles to lay out). The *build* pass then generates
the events at their positions' times, encodes them, and breaks the ones the plan says to break.

Every message carries its ground truth (``expected``): ``valid`` (must be scored or sent to
review), ``duplicate`` (must be dropped and counted), ``late`` (flagged or quarantined at stage
``late``, by its type's ``late_policy``) or ``quarantine`` with the stage and error code the
processor must give. Messages are returned in production order; the Kafka key is the entity id.

Random streams are split by purpose (plan, time, each generator, faults), so changing the fault
mix does not change the users or documents a seed generates, only where the faults fall.
"""

from __future__ import annotations

import itertools
import random
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from processor.config import PROJECT_ROOT
from processor.devtools.simulate.corruptions import Corruptor
from processor.devtools.simulate.encoding import AVRO_HEADERS, JSON_HEADERS, AvroEncoder, to_json
from processor.devtools.simulate.faults import DUPLICATE, KIND_TYPES, LATE, OUT_OF_ORDER, FaultMix
from processor.devtools.simulate.generators import (
    DOCUMENT_UPLOADED,
    USER_SIGNED_UP,
    DocumentUploadGenerator,
    GeneratedEvent,
    UserSignupGenerator,
)
from processor.devtools.simulate.jira_dataset import EVENT_TYPE as JIRA_TICKET_CREATED
from processor.devtools.simulate.jira_dataset import JiraReplay, load_tickets, ticket_record
from processor.devtools.simulate.timeline import event_times
from processor.messages import Headers
from processor.serializers.schemas import SchemaStore

ALL_TYPES: tuple[str, ...] = (USER_SIGNED_UP, JIRA_TICKET_CREATED, DOCUMENT_UPLOADED)
#: Jira gets a small share: 20,000 messages then replay about 2,000 of its 2,503 real tickets once.
DEFAULT_MIX: Mapping[str, float] = {USER_SIGNED_UP: 0.45, JIRA_TICKET_CREATED: 0.10, DOCUMENT_UPLOADED: 0.45}

EXPECTED_OUTCOMES = ("valid", "duplicate", "late", "quarantine")

#: The second of an out-of-order pair trails the first by at most this much event time: well
#: inside the processor's default 5 s allowed lateness, so reordering (not lateness) applies.
_MAX_SWAP_GAP_MS = 3_000
#: Share of JSON sign-ups whose client sends ``occurred_at`` as an RFC 3339 string (a legacy web
#: client; the envelope contract allows it). Whole seconds, so the epoch-ms value is exact.
_RFC3339_SHARE = 0.15
#: Kinds whose record stays readable, so they may travel as Avro.
_AVRO_KINDS = frozenset({None, OUT_OF_ORDER, LATE, "out_of_range"})


@dataclass(frozen=True, slots=True)
class SimulatedMessage:
    """One message to produce, with its ground truth.

    ``event_id`` is the id the processor can attribute the message to: None when the value
    cannot be read that far (decode-stage faults) or has no id. ``event_type`` is the type the
    message was generated as (for a message with an unknown or missing type, the original one).
    ``label`` is the event's ground-truth label for messages that reach (or copy one that
    reaches) the model; ``as_json`` is the message as one line of JSON when it has a JSON form
    (Avro values: their record), for the JSONL sink.
    """

    key: bytes | None
    value: bytes | None
    headers: Headers
    event_id: str | None
    event_type: str | None
    label: str | None
    expected: str
    expected_stage: str | None
    expected_code: str | None
    fault: str | None = None
    encoding: str = "json"  # json | avro | bytes (undecodable) | none (null value)
    occurred_at: int | None = None
    entity_id: str | None = None
    as_json: bytes | None = None
    variant: str | None = None  # which flavour of the fault

    @property
    def is_valid(self) -> bool:
        return self.expected == "valid"


@dataclass(frozen=True, slots=True)
class _Slot:
    kind: str | None
    event_type: str | None
    role: str = ""  # "lead" / "trail" of an out-of-order pair


def simulate(
    count: int,
    *,
    seed: int,
    types: Sequence[str] = ALL_TYPES,
    mix: Mapping[str, float] | None = None,
    faults: FaultMix | None = None,
    schemas: SchemaStore | None = None,
    start_ms: int | None = None,
    span_s: float = 3600.0,
    jira_csv: Path | None = None,
    max_message_bytes: int = 1_000_000,
) -> list[SimulatedMessage]:
    """``count`` messages of the given types, with the fault mix applied and the truth recorded.

    ``mix`` weights the types (default ``DEFAULT_MIX``, renormalised over ``types``). Synthetic
    event times run from ``start_ms`` (default: now minus the span) over ``span_s`` seconds; Jira
    tickets keep their real creation times. ``max_message_bytes`` is the processor's size limit,
    which ``oversized`` values exceed. Deterministic for a given seed and ``start_ms``.
    """
    if count < 0:
        raise ValueError(f"count must be >= 0, got {count}")
    if span_s < 0:
        raise ValueError(f"span_s must be >= 0, got {span_s}")
    types = tuple(dict.fromkeys(types))
    unknown = [t for t in types if t not in ALL_TYPES]
    if not types or unknown:
        raise ValueError(f"unknown event types {unknown}; choose from {', '.join(ALL_TYPES)}")
    weights = {t: float((mix or DEFAULT_MIX).get(t, 0.0)) for t in types}
    if any(w < 0 for w in weights.values()) or sum(weights.values()) <= 0:
        raise ValueError(f"type weights {weights} must be >= 0 with a positive total")
    faults = faults or FaultMix.none()
    schemas = schemas or SchemaStore(PROJECT_ROOT / "schemas")
    span_ms = round(span_s * 1000)
    if start_ms is None:
        start_ms = int(time.time() * 1000) - span_ms

    plan = _plan(count, random.Random(f"{seed}:plan"), faults, weights)
    builder = _Builder(
        seed=seed,
        faults=faults,
        schemas=schemas,
        times=event_times(random.Random(f"{seed}:time"), count, start_ms=start_ms, span_ms=span_ms),
        jira_count=sum(1 for s in plan if s.event_type == JIRA_TICKET_CREATED),
        jira_csv=jira_csv,
        max_message_bytes=max_message_bytes,
    )
    return [builder.build(i, slot) for i, slot in enumerate(plan)]


# -- plan ----------------------------------------------------------------------------------------


def _plan(count: int, rng: random.Random, faults: FaultMix, weights: Mapping[str, float]) -> list[_Slot]:
    types = [t for t, w in weights.items() if w > 0]
    rates = faults.rates()
    # A pair takes two positions for one out-of-order message: draw pairs a little more often so
    # the share of out-of-order *messages* matches the rate.
    if OUT_OF_ORDER in rates:
        rates[OUT_OF_ORDER] = min(rates[OUT_OF_ORDER] / max(1e-9, 1.0 - rates[OUT_OF_ORDER]), 1.0)
    warmup = min(faults.late_warmup, count // 2)
    if LATE in rates and count > warmup:
        others = sum(r for k, r in rates.items() if k != LATE)
        rates[LATE] = min(rates[LATE] * count / (count - warmup), max(0.0, 1.0 - others))
    kinds = list(rates)
    cum = list(itertools.accumulate(rates[k] for k in kinds))

    slots: list[_Slot] = []
    has_valid = False
    while len(slots) < count:
        position = len(slots)
        kind: str | None = _draw_kind(rng.random(), kinds, cum)
        if kind == LATE and position < warmup:
            kind = None
        if kind == DUPLICATE:
            if has_valid:
                slots.append(_Slot(DUPLICATE, None))
                continue
            kind = None
        eligible = types
        if kind is not None and kind in KIND_TYPES:
            eligible = [t for t in types if t in KIND_TYPES[kind]]
            if not eligible:
                kind, eligible = None, types
        if kind == OUT_OF_ORDER:
            if position + 1 >= count:
                kind, eligible = None, types
            else:
                slots.append(_Slot(None, DOCUMENT_UPLOADED, "lead"))
                slots.append(_Slot(OUT_OF_ORDER, DOCUMENT_UPLOADED, "trail"))
                has_valid = True
                continue
        event_type = rng.choices(eligible, weights=[weights[t] for t in eligible])[0]
        slots.append(_Slot(kind, event_type))
        has_valid = has_valid or kind is None
    return slots


def _draw_kind(u: float, kinds: list[str], cum: list[float]) -> str | None:
    for kind, edge in zip(kinds, cum, strict=True):
        if u < edge:
            return kind
    return None


# -- build ---------------------------------------------------------------------------------------


class _Builder:
    """Generates and encodes the planned messages in order, keeping the per-stream state."""

    def __init__(
        self,
        *,
        seed: int,
        faults: FaultMix,
        schemas: SchemaStore,
        times: list[int],
        jira_count: int,
        jira_csv: Path | None,
        max_message_bytes: int,
    ) -> None:
        self._rng = random.Random(f"{seed}:faults")
        self._faults = faults
        self._times = times
        self._users = UserSignupGenerator(random.Random(f"{seed}:{USER_SIGNED_UP}"))
        self._docs = DocumentUploadGenerator(random.Random(f"{seed}:{DOCUMENT_UPLOADED}"))
        self._jira = JiraReplay(load_tickets(jira_csv), jira_count) if jira_count else None
        self._avro = AvroEncoder(schemas)
        self._corruptor = Corruptor(self._avro, max_message_bytes=max_message_bytes)
        self._valid: list[SimulatedMessage] = []  # originals a duplicate may copy
        self._first_time: dict[str, int] = {}  # event time of each type's first event
        self._seen: Counter[str] = Counter()
        self._trail: GeneratedEvent | None = None

    def build(self, position: int, slot: _Slot) -> SimulatedMessage:
        if slot.kind == DUPLICATE:
            return self._duplicate()
        if slot.role == "lead":
            first_at = self._times[position]
            later_at = first_at + self._rng.randint(150, _MAX_SWAP_GAP_MS)
            first, later = self._docs.next_pair(first_at, later_at)
            self._trail = first  # the earlier event goes out second
            return self._encoded(later, None)
        if slot.role == "trail":
            assert self._trail is not None
            event, self._trail = self._trail, None
            return self._encoded(event, OUT_OF_ORDER)
        assert slot.event_type is not None
        event = self._next_event(slot.event_type, self._times[position])
        if slot.kind is None or slot.kind == LATE:
            return self._encoded(event, slot.kind)
        return self._corrupted(event, slot.kind)

    def _next_event(self, event_type: str, at: int) -> GeneratedEvent:
        if event_type == USER_SIGNED_UP:
            event = self._users.next(at)
        elif event_type == DOCUMENT_UPLOADED:
            event = self._docs.next(at)
        else:
            assert self._jira is not None
            ticket, occurred_at, event_id = self._jira.next()
            event = GeneratedEvent(ticket_record(ticket, event_id=event_id, occurred_at=occurred_at), ticket.label)
        return event

    def _note(self, event: GeneratedEvent) -> None:
        self._first_time.setdefault(event.event_type, event.occurred_at)
        self._seen[event.event_type] += 1

    def _late(self, event: GeneratedEvent) -> GeneratedEvent | None:
        """The event as delivered long after it happened: behind every watermark of its type.

        Minutes behind the stream's current time and before the first event of its type, so any
        partition that has released an event of this type sees it behind its watermark.
        """
        first = self._first_time.get(event.event_type)
        if first is None:
            return None  # nothing of this type yet: it could not be late
        now = event.occurred_at
        at = min(now - self._rng.randint(120_000, 1_800_000), first - self._rng.randint(10_000, 300_000))
        record = dict(event.record)
        record["occurred_at"] = at
        if "created" in record:  # a Jira webhook delivered late still says when the issue was created
            record["created"] = at
        return GeneratedEvent(record, event.label)

    def _encoded(self, event: GeneratedEvent, kind: str | None) -> SimulatedMessage:
        expected = "valid"
        if kind == LATE:
            late = self._late(event)
            if late is None:
                kind = None
            else:
                event, expected = late, "late"
        if expected == "valid":
            self._note(event)
        record = event.record
        as_json: bytes | None
        if self._faults.avro_share > 0 and self._rng.random() < self._faults.avro_share:
            value, headers, encoding = self._avro.encode(record), AVRO_HEADERS, "avro"
            as_json = to_json(record)
        else:
            if event.event_type == USER_SIGNED_UP and self._rng.random() < _RFC3339_SHARE:
                event = _rfc3339_time(event)
                record = dict(event.record)
                record["occurred_at"] = _rfc3339(event.occurred_at)
            value, headers, encoding = to_json(record), JSON_HEADERS, "json"
            as_json = value
        message = SimulatedMessage(
            key=event.entity_id.encode("utf-8"),
            value=value,
            headers=headers,
            event_id=event.event_id,
            event_type=event.event_type,
            label=event.label,
            expected=expected,
            expected_stage=None,
            expected_code=None,
            fault=kind,
            encoding=encoding,
            occurred_at=event.occurred_at,
            entity_id=event.entity_id,
            as_json=as_json,
        )
        if expected == "valid":
            self._valid.append(message)
        return message

    def _corrupted(self, event: GeneratedEvent, kind: str) -> SimulatedMessage:
        avro = kind in _AVRO_KINDS and self._faults.avro_share > 0 and self._rng.random() < self._faults.avro_share
        broken = self._corruptor.apply(kind, event, self._rng, avro=avro)
        return SimulatedMessage(
            key=event.entity_id.encode("utf-8"),
            value=broken.value,
            headers=broken.headers,
            event_id=broken.event_id,
            event_type=event.event_type,
            label=None,
            expected="quarantine",
            expected_stage=broken.stage,
            expected_code=broken.code,
            fault=kind,
            encoding=broken.encoding,
            occurred_at=event.occurred_at,
            entity_id=event.entity_id,
            as_json=broken.as_json,
            variant=broken.variant,
        )

    def _duplicate(self) -> SimulatedMessage:
        """A producer retry: the same bytes and key again, a little later (mostly within ~20 messages)."""
        back = min(len(self._valid), 1 + int(self._rng.expovariate(1 / 20)))
        original = self._valid[-back]
        return SimulatedMessage(
            key=original.key,
            value=original.value,
            headers=original.headers,
            event_id=original.event_id,
            event_type=original.event_type,
            label=original.label,
            expected="duplicate",
            expected_stage=None,
            expected_code=None,
            fault=DUPLICATE,
            encoding=original.encoding,
            occurred_at=original.occurred_at,
            entity_id=original.entity_id,
            as_json=original.as_json,
        )


def _rfc3339_time(event: GeneratedEvent) -> GeneratedEvent:
    """The event with its time rounded down to the whole second an RFC 3339 client would send."""
    record = dict(event.record)
    record["occurred_at"] = event.occurred_at - event.occurred_at % 1000
    return GeneratedEvent(record, event.label)


def _rfc3339(epoch_ms: int) -> str:
    return datetime.fromtimestamp(epoch_ms // 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def summarize(messages: Sequence[SimulatedMessage]) -> dict[str, Any]:
    """Counts by expected outcome, quarantine stage/code, fault kind, type, encoding and label."""
    return {
        "messages": len(messages),
        "by_expected": dict(Counter(m.expected for m in messages)),
        "by_quarantine": dict(
            Counter(f"{m.expected_stage}/{m.expected_code}" for m in messages if m.expected == "quarantine")
        ),
        "by_fault": dict(Counter(m.fault for m in messages if m.fault is not None)),
        "by_type": dict(Counter(m.event_type or "none" for m in messages)),
        "by_encoding": dict(Counter(m.encoding for m in messages)),
        "labels": dict(Counter(f"{m.event_type}:{m.label}" for m in messages if m.is_valid and m.label)),
    }
