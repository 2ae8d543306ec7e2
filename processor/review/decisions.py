"""Deciding a review item exactly once.

1. An atomic claim in the review store (one script: not decided yet, nobody else deciding): of two
   reviewers clicking at once, one gets it; a repeated or retried request finds the decision.
2. One Kafka transaction writes the feedback label and the human decision; just before commit the
   claim is checked (and extended): a replica that stalled past its claim aborts instead.
3. The decision is recorded in the store and the claim let go.

If the process dies between 2 and 3, the claim expires only after longer than a transaction can
live (``claim_ttl_s`` > the producer's transaction timeout), and by then the ingest of every
replica has read the committed feedback record and recorded the decision (``ReviewStore.record_feedback``):
nobody can decide the event again. When a commit's outcome is unknown (a timeout), the claim is
kept, not released, for the same reason.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any, Literal

from confluent_kafka import KafkaError, KafkaException, Producer

from processor.config import PipelinesConfig, Settings
from processor.kafka.clients import transactional_producer_config
from processor.kafka.deadline import call_with_deadline
from processor.messages import OutputRecord
from processor.review.items import Choices, ReviewItem
from processor.review.metrics import ReviewMetrics
from processor.review.records import decision_outputs
from processor.review.store import DoneRecord, ReviewStore
from processor.serializers.outputs import OutputEncoder
from processor.serializers.schemas import SchemaStore

log = logging.getLogger("processor.review")

_TXN_TIMEOUT_S = 30.0

Status = Literal["decided", "already_decided", "conflict", "busy", "not_found", "invalid", "failed"]


@dataclass(frozen=True, slots=True)
class Outcome:
    status: Status
    message: str
    done: DoneRecord | None = None

    @property
    def recorded(self) -> bool:
        """The event has this reviewer's decision (now or from an earlier identical request)."""
        return self.status in ("decided", "already_decided")


class DecisionWriteError(Exception):
    """The transaction did not commit. ``certain``: it is known not to have committed."""

    def __init__(self, message: str, *, certain: bool) -> None:
        super().__init__(message)
        self.certain = certain


class DecisionProducer:
    """One transactional producer per process; decisions are human-paced, so one transaction at a time."""

    def __init__(self, settings: Settings) -> None:
        conf = transactional_producer_config(settings)
        conf["transactional.id"] = settings.review.effective_transactional_id()
        # a transaction must end (commit or broker abort) well before its claim can expire
        conf["transaction.timeout.ms"] = min(settings.kafka.transaction_timeout_ms, settings.review.claim_ttl_s * 500)
        self._conf = conf
        self._producer: Any = None
        self._lock = threading.Lock()

    def _ready(self) -> Any:
        if self._producer is None:
            producer = Producer(self._conf)
            call_with_deadline("init_transactions", lambda: producer.init_transactions(_TXN_TIMEOUT_S), _TXN_TIMEOUT_S)
            self._producer = producer
        return self._producer

    def write(self, records: tuple[OutputRecord, ...], still_ours: Any) -> None:
        """Produce ``records`` in one transaction; ``still_ours()`` is asked just before the commit."""
        with self._lock:
            try:
                producer = self._ready()
            except KafkaException as exc:
                self._producer = None
                raise DecisionWriteError(f"Kafka producer unavailable: {exc}", certain=True) from exc
            committing = False
            try:
                producer.begin_transaction()
                for r in records:
                    producer.produce(r.topic, value=r.value, key=r.key, headers=list(r.headers))
                if not still_ours():
                    raise DecisionWriteError("the claim expired before the commit", certain=True)
                committing = True
                call_with_deadline(
                    "commit_transaction", lambda: producer.commit_transaction(_TXN_TIMEOUT_S), _TXN_TIMEOUT_S
                )
            except (KafkaException, BufferError, DecisionWriteError) as exc:
                certain = self._abort(producer, exc, committing)
                if isinstance(exc, DecisionWriteError):
                    raise DecisionWriteError(str(exc), certain=certain) from exc
                raise DecisionWriteError(f"Kafka transaction failed: {exc}", certain=certain) from exc

    def _abort(self, producer: Any, exc: BaseException, committing: bool) -> bool:
        """Abort what can be aborted; True when the transaction is known not to have committed."""
        err = exc.args[0] if isinstance(exc, KafkaException) and exc.args else None
        fatal = isinstance(err, KafkaError) and (err.fatal() or err.code() == KafkaError._FATAL)
        if not fatal:
            try:
                producer.abort_transaction(_TXN_TIMEOUT_S)
                return True
            except KafkaException as abort_exc:
                log.warning("abort_transaction failed (%s); replacing the producer", abort_exc)
        # a new producer with the same transactional.id fences this one and aborts its open transaction
        self._producer = None
        return not committing

    def close(self) -> None:
        with self._lock:
            if self._producer is not None:
                self._producer.flush(10)
                self._producer = None


class DecisionService:
    def __init__(
        self,
        settings: Settings,
        pipelines: PipelinesConfig,
        store: ReviewStore,
        producer: DecisionProducer,
        metrics: ReviewMetrics,
    ) -> None:
        self._settings = settings
        self._store = store
        self._producer = producer
        self._metrics = metrics
        self._encoder = OutputEncoder(SchemaStore(settings.schemas_dir))
        self.choices = Choices.build(pipelines, settings.review)

    def decide(self, event_id: str, reviewer: str, decision: str, note: str | None) -> Outcome:
        review = self._settings.review
        item = self._store.get(event_id)
        if item is None:
            return Outcome("not_found", "no such review item")
        choice = self.choices.find(item.event_type, decision)
        if choice is None:
            options = ", ".join(c.decision for c in self.choices.for_type(item.event_type))
            return Outcome("invalid", f"{decision!r} is not a decision for {item.event_type} (one of: {options})")
        note = (note or "").strip() or None
        if note is not None and len(note) > review.max_note_chars:
            return Outcome("invalid", f"the note is longer than {review.max_note_chars} characters")

        ttl_ms = review.claim_ttl_s * 1000
        claim = self._store.claim(event_id, reviewer, ttl_ms)
        if claim.status == "done" and claim.done is not None:
            done = claim.done
            same = done.decision == decision and done.reviewer == reviewer
            self._metrics.repeats.labels("same_decision" if same else "already_decided").inc()
            if same:
                return Outcome("already_decided", "already recorded: your decision stands", done)
            return Outcome("conflict", f"already decided by {done.reviewer}: {done.decision}", done)
        if claim.status == "busy":
            self._metrics.repeats.labels("being_decided").inc()
            return Outcome("busy", f"{claim.holder} is deciding this item right now")
        if claim.status == "missing":
            return Outcome("not_found", "no such review item")

        decided_at = int(time.time() * 1000)
        outputs = decision_outputs(self._settings.topics, self._encoder, item, choice, reviewer, decided_at, note)
        try:
            self._producer.write(outputs, lambda: self._store.hold(event_id, claim.token, ttl_ms))
        except DecisionWriteError as exc:
            self._metrics.decision_failures.labels("kafka").inc()
            log.error("decision on %r by %s not written: %s", event_id, reviewer, exc)
            if exc.certain:
                self._store.release(event_id, claim.token)
                return Outcome("failed", f"not recorded, nothing was written ({exc}); try again")
            return Outcome(
                "failed",
                f"outcome unknown ({exc}); the item stays locked for up to {review.claim_ttl_s} s while that settles",
            )
        done = DoneRecord(event_id, choice.decision, choice.label, reviewer, decided_at, note)
        self._store.finish(claim.token, done)
        self._observe(item, done)
        return Outcome("decided", f"recorded: {choice.decision} (label {choice.label})", done)

    def _observe(self, item: ReviewItem, done: DoneRecord) -> None:
        m = self._metrics
        event_type = m.event_type(item.event_type)
        m.decisions.labels(m.reviewer(done.reviewer), event_type, done.decision).inc()
        m.time_to_decision.labels(event_type).observe(max(0.0, (done.decided_at - item.processed_at) / 1000))
        agreement = "no_model" if item.score is None else ("agree" if done.decision == item.decision else "disagree")
        m.agreement.labels(event_type, agreement).inc()
        if (
            done.decided_at - item.processed_at > self._settings.review.sla_seconds * 1000
            and self._store.mark_sla_breached([item.event_id])
        ):
            m.sla_breaches.labels(event_type).inc()

    def close(self) -> None:
        self._producer.close()
