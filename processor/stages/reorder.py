"""reorder: release each partition's events in event-time order after a bounded delay.

Per input partition and event type there is a watermark: the highest event time seen minus the
allowed lateness. Buffered events at or below the watermark are released in (event time,
sequence, offset) order; an event that arrives at or below the watermark is late (its type's
policy flags or quarantines it). When a (partition, type) has been quiet for the idle timeout,
everything it holds is released, so quiet partitions still drain.

Watermarks are per type because sources have their own clocks (a backfill of 2021 tickets must
not make today's sign-ups late). One entity's events share a Kafka key, hence a partition, so
per-entity order follows from per-partition order.

The buffer lives in memory for speed and in Redis for durability: every batch's net change is
written through ``state.reorder_store`` before the transaction commits, as the partition's next
generation; once the transaction commits, that generation is the buffer's (``committed``).

``Reorderer`` is the stage the pipeline runs; ``PartitionBuffer`` is one partition's buffer.
"""

from __future__ import annotations

import base64
import heapq
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import orjson

from processor.batch_stats import BatchStats
from processor.config import PipelinesConfig
from processor.errors import LateEventError
from processor.messages import Event, RawMessage, Reason, Rejected
from processor.state.reorder_store import BufferChange, StoredPartition


@dataclass(slots=True)
class _Clock:
    max_seen: int | None = None
    watermark: int | None = None  # events with occurred_at <= watermark are late
    last_arrival: float = 0.0  # monotonic seconds; not persisted (restarts count as arrivals)


@dataclass(slots=True)
class PartitionBuffer:
    topic: str
    partition: int
    generation: int
    owner: str = ""  # this process's claim on the partition's Redis state
    clocks: dict[str, _Clock] = field(default_factory=dict)
    heaps: dict[str, list[tuple[tuple[int, int, int], Event]]] = field(default_factory=dict)
    # this batch's pending changes
    _added: dict[int, Event] = field(default_factory=dict)
    _removed: set[int] = field(default_factory=set)
    _dirty: bool = False

    def __len__(self) -> int:
        return sum(len(h) for h in self.heaps.values())

    def low_offset(self) -> int | None:
        """Lowest input offset still held (what a rebuild would have to re-read from)."""
        lows = [item[1].raw.offset for heap in self.heaps.values() for item in heap]
        return min(lows) if lows else None

    def admit(self, event: Event, now: float) -> bool:
        """Buffer an event; False when it is late (at or behind the watermark)."""
        clock = self.clocks.setdefault(event.event_type, _Clock(last_arrival=now))
        clock.last_arrival = now
        self._dirty = True
        if clock.max_seen is None or event.occurred_at > clock.max_seen:
            clock.max_seen = event.occurred_at
        if clock.watermark is not None and event.occurred_at <= clock.watermark:
            return False
        heapq.heappush(self.heaps.setdefault(event.event_type, []), (event.order_key, event))
        self._added[event.raw.offset] = event
        return True

    def release(self, now: float, lateness_ms: int, idle_timeout_s: float, flush: bool = False) -> list[Event]:
        out: list[Event] = []
        for event_type, heap in self.heaps.items():
            clock = self.clocks[event_type]
            if not heap or clock.max_seen is None:
                continue
            target = clock.max_seen - lateness_ms
            if flush or now - clock.last_arrival >= idle_timeout_s:
                target = clock.max_seen
            if clock.watermark is not None and target <= clock.watermark:
                continue
            clock.watermark = target
            self._dirty = True
            while heap and heap[0][0][0] <= target:
                _, event = heapq.heappop(heap)
                out.append(event)
                offset = event.raw.offset
                if offset in self._added:
                    del self._added[offset]  # came and went in this batch: Redis never sees it
                else:
                    self._removed.add(offset)
        out.sort(key=lambda e: e.order_key)
        return out

    def take_change(self, new_generation: int) -> BufferChange:
        """This batch's net change for Redis; call once per batch, before the commit."""
        change = BufferChange(
            topic=self.topic,
            partition=self.partition,
            expected_generation=self.generation,
            new_generation=new_generation,
            clocks=_encode_clocks(self.clocks),
            added={offset: encode_event(e) for offset, e in self._added.items()},
            removed=sorted(self._removed),
            owner=self.owner,
        )
        self._added = {}
        self._removed = set()
        self._dirty = False
        return change

    @property
    def dirty(self) -> bool:
        return self._dirty


@dataclass(slots=True)
class Reordered:
    """What one batch's reorder stage gives the stages after it."""

    ready: list[Event]  # released in event-time order per partition, then the late ones flagged
    late: list[Rejected]  # late events whose type's policy quarantines them
    changes: list[BufferChange]  # every touched buffer's change, as its next generation


class Reorderer:
    """The reorder stage: admit a batch's valid events into their partition's buffer, apply the
    late policy to those behind the watermark, release what the watermarks allow."""

    def __init__(self, pipelines: PipelinesConfig, lateness_ms: int, idle_timeout_s: float) -> None:
        self._policies = {name: cfg.late_policy for name, cfg in pipelines.event_types.items()}
        self._lateness_ms = lateness_ms
        self._idle_s = idle_timeout_s

    def run(
        self,
        valid: Iterable[Event],
        buffers: dict[int, PartitionBuffer],
        now: float,
        stats: BatchStats,
        *,
        flush: bool = False,
    ) -> Reordered:
        """``flush``: release everything held (the last batch before an idle exit)."""
        ready: list[Event] = []
        late: list[Rejected] = []
        for event in valid:
            if buffers[event.raw.partition].admit(event, now):
                continue
            policy = self._policies[event.event_type]
            stats.late[(event.event_type, policy)] += 1
            if policy == "quarantine":
                late.append(Rejected(event.raw, _late_error(event)))
            else:
                ready.append(replace(event, late=True))
        for buffer in buffers.values():
            ready.extend(buffer.release(now, self._lateness_ms, self._idle_s, flush=flush))
        changes = [buffer.take_change(buffer.generation + 1) for buffer in buffers.values() if buffer.dirty]
        return Reordered(ready=ready, late=late, changes=changes)


def committed(buffers: dict[int, PartitionBuffer], changes: Sequence[BufferChange]) -> None:
    """The transaction that carried ``changes`` committed: each buffer is at its new generation
    (the next batch's change is checked against it in Redis)."""
    for change in changes:
        buffers[change.partition].generation = change.new_generation


def _late_error(event: Event) -> Reason:
    return LateEventError(
        "behind_watermark",
        f"occurred_at {event.occurred_at} is behind the reorder watermark",
        field="occurred_at",
        raw=event.raw,
        event_type=event.event_type,
        event_id=event.event_id,
    ).reason()


def restore(topic: str, partition: int, stored: StoredPartition, now: float, owner: str = "") -> PartitionBuffer:
    buffer = PartitionBuffer(topic=topic, partition=partition, generation=stored.generation, owner=owner)
    if stored.clocks:
        for event_type, (max_seen, watermark) in orjson.loads(stored.clocks).items():
            buffer.clocks[event_type] = _Clock(max_seen=max_seen, watermark=watermark, last_arrival=now)
    for offset, payload in stored.items.items():
        event = decode_event(topic, partition, offset, payload)
        heapq.heappush(buffer.heaps.setdefault(event.event_type, []), (event.order_key, event))
        buffer.clocks.setdefault(event.event_type, _Clock(last_arrival=now))
    return buffer


def _encode_clocks(clocks: dict[str, _Clock]) -> bytes:
    return orjson.dumps({t: [c.max_seen, c.watermark] for t, c in clocks.items()})


# A buffered event keeps its original key, value and headers (base64), so that if a later stage
# has to quarantine it after a restart, the quarantine record still forwards the exact bytes.
def encode_event(event: Event) -> bytes:
    raw = event.raw
    return orjson.dumps(
        {
            "r": event.record,
            "k": _b64(raw.key),
            "v": _b64(raw.value),
            "h": [[name, _b64(value)] for name, value in raw.headers],
            "ts": raw.timestamp_ms,
            "e": event.encoding,
            "c": event.coercions,
        }
    )


def decode_event(topic: str, partition: int, offset: int, payload: bytes) -> Event:
    data: dict[str, Any] = orjson.loads(payload)
    record = data["r"]
    raw = RawMessage(
        topic=topic,
        partition=partition,
        offset=offset,
        key=_unb64(data["k"]),
        value=_unb64(data.get("v")),
        headers=tuple((name, _unb64(value)) for name, value in data.get("h", ())),
        timestamp_ms=data["ts"],
    )
    return Event(
        raw=raw,
        record=record,
        event_id=record["event_id"],
        event_type=record["event_type"],
        entity_id=record["entity_id"],
        occurred_at=record["occurred_at"],
        sequence=record.get("sequence"),
        schema_version=record.get("schema_version"),
        encoding=data["e"],
        coercions=tuple(data["c"]),
    )


def _b64(data: bytes | None) -> str | None:
    return None if data is None else base64.b64encode(data).decode("ascii")


def _unb64(text: str | None) -> bytes | None:
    return None if text is None else base64.b64decode(text)
