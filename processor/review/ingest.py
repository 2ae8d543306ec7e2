"""Read events.review into the review store, and events.feedback back into it.

Review records become queue items (idempotent per event_id: a replay changes nothing). Feedback
records are decisions some replica committed: recording them closes the gap left by a replica
that died between its Kafka commit and its Redis write, and keeps replicas in step. Offsets are
committed after the store writes, so a crash replays a little and loses nothing.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid

import orjson
from confluent_kafka import Consumer, KafkaError, Message, TopicPartition

from processor.config import Settings
from processor.review.items import Choices, Position, ReviewItem, ReviewRecordError, parse_review_record, priority_of
from processor.review.metrics import ReviewMetrics
from processor.review.store import DoneRecord, ReviewStore

log = logging.getLogger("processor.review.ingest")

_BATCH = 500


class Ingest:
    def __init__(
        self,
        settings: Settings,
        store: ReviewStore,
        metrics: ReviewMetrics,
        choices: Choices,
        *,
        group_id: str | None = None,
    ) -> None:
        self._settings = settings
        self._store = store
        self._metrics = metrics
        self._choices = choices
        conf = settings.kafka.client_config()
        conf.update(
            {
                "group.id": group_id or settings.review.group_id,
                "client.id": f"review-ingest-{uuid.uuid4().hex[:8]}",
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
                "isolation.level": "read_committed",  # never a decision whose transaction aborted
                "enable.partition.eof": False,
                "session.timeout.ms": settings.kafka.session_timeout_ms,
            }
        )
        self._consumer = Consumer(conf)
        self._topics = settings.topics
        # set on the first assignment, even an empty one: a replica the group gives no partition
        # (more replicas than partitions) has nothing to catch up on and serves the shared store
        self._assigned = threading.Event()
        self._consumer.subscribe(
            [self._topics.review, self._topics.feedback], on_assign=lambda _consumer, _parts: self._assigned.set()
        )
        self.caught_up = threading.Event()
        self.last_error: str | None = None

    def poll_once(self, timeout_s: float) -> int:
        messages = self._consumer.consume(_BATCH, timeout_s)
        items, feedback = [], []
        for m in messages:
            error = m.error()
            if error is not None:
                if error.code() != KafkaError._PARTITION_EOF:
                    self.last_error = str(error)
                    log.warning("review ingest: %s", error)
                continue
            if m.topic() == self._topics.review:
                item = self._review_item(m)
                if item is not None:
                    items.append((item, priority_of(item.review_reason, self._settings.review)))
            else:
                record = self._feedback(m)
                if record is not None:
                    feedback.append(record)
        if items:
            for (item, _), new in zip(items, self._store.add(items), strict=True):
                if new:
                    self._metrics.ingested.labels(self._metrics.event_type(item.event_type)).inc()
        if feedback:
            self._store.record_feedback(feedback)
        if any(m.error() is None for m in messages):
            self._consumer.commit(asynchronous=False)
            self.last_error = None
        return len(messages)

    def _review_item(self, m: Message) -> ReviewItem | None:
        position = Position(str(m.topic()), int(m.partition() or 0), int(m.offset() or 0))
        try:
            return parse_review_record(m.value(), position, _headers(m))
        except ReviewRecordError as exc:
            where = f"{m.topic()}:{m.partition()}:{m.offset()}"
            self._metrics.rejected.labels("review", exc.code).inc()
            self._store.reject(where, exc.code, exc.message)
            log.warning("review record %s rejected: %s", where, exc)
            return None

    def _feedback(self, m: Message) -> DoneRecord | None:
        where = f"{m.topic()}:{m.partition()}:{m.offset()}"
        try:
            record = orjson.loads(m.value() or b"")
            if not isinstance(record, dict):
                raise ValueError("not a JSON object")
            event_id, label, reviewer = record["event_id"], record["label"], record["reviewer"]
            headers = dict(m.headers() or ())
            header = headers.get("decision")
            if isinstance(header, bytes):
                header = header.decode()
            decision = header or self._decision_for(record["event_type"], label)
            return DoneRecord(
                str(event_id), decision, str(label), str(reviewer), int(record["decided_at"]), record.get("note")
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, UnicodeDecodeError) as exc:
            self._metrics.rejected.labels("feedback", type(exc).__name__).inc()
            self._store.reject(where, "invalid_feedback", str(exc))
            log.warning("feedback record %s unreadable: %s", where, exc)
            return None

    def _decision_for(self, event_type: str, label: str) -> str:
        """Feedback written by another tool names only the label: map it back to the decision."""
        return next((c.decision for c in self._choices.for_type(event_type) if c.label == label), label)

    def catch_up(self, timeout_s: float = 60.0, stop: threading.Event | None = None) -> bool:
        """Read until every assigned partition is at its end (as of now); True when caught up.

        A replica whose assignment is empty once the group has formed is caught up at once: the
        other replicas fill the store it serves from.
        """
        deadline = time.monotonic() + timeout_s
        ends: dict[tuple[str, int], int] | None = None
        while time.monotonic() < deadline and not (stop is not None and stop.is_set()):
            self.poll_once(0.5)
            assignment = self._consumer.assignment()
            if not assignment:
                if self._assigned.is_set():
                    self.caught_up.set()
                    return True
                continue
            if ends is None:
                ends = {
                    (tp.topic, tp.partition): self._consumer.get_watermark_offsets(tp, timeout=10)[1]
                    for tp in assignment
                }
            # a partition the group had already read to its end yields nothing, so it has no
            # position yet: its committed offset says where it stands
            offsets = {(tp.topic, tp.partition): tp.offset for tp in self._consumer.position(assignment)}
            unknown = [TopicPartition(t, p) for (t, p), o in offsets.items() if o < 0]
            if unknown:
                offsets.update(
                    {(tp.topic, tp.partition): tp.offset for tp in self._consumer.committed(unknown, timeout=10)}
                )
            if all(_at_end(offset, ends.get(key, 0)) for key, offset in offsets.items()):
                self.caught_up.set()
                return True
        return False

    def run(self, stop: threading.Event) -> None:
        """The serve loop: catch up (readiness waits for it), then keep following both topics."""
        while not stop.is_set() and not self.caught_up.is_set():
            try:
                self.catch_up(timeout_s=30.0, stop=stop)
            except Exception as exc:  # keep the web app up; readiness says what is wrong
                self.last_error = str(exc)
                log.exception("review ingest catch-up failed; retrying")
                stop.wait(2.0)
        while not stop.is_set():
            try:
                self.poll_once(1.0)
            except Exception as exc:
                self.last_error = str(exc)
                log.exception("review ingest failed; retrying")
                stop.wait(2.0)

    def close(self) -> None:
        self._consumer.close()


def _at_end(offset: int, end: int) -> bool:
    return end <= 0 or (offset >= 0 and offset >= end)


def _headers(m: Message) -> dict[str, bytes | None]:
    """A record's headers by name (the client hands a list of pairs)."""
    out: dict[str, bytes | None] = {}
    for pair in m.headers() or ():
        if isinstance(pair, tuple) and len(pair) == 2:
            name, value = pair
            out[str(name)] = value.encode() if isinstance(value, str) else value
    return out
