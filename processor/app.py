"""The loop: consume a batch, run the pipeline, commit outputs and offsets in one transaction.

Consume-transform-produce with Kafka transactions (docs/design.md §5). Per batch:
``pipeline.process`` (which applies the batch's reorder-buffer change to Redis as generation
g+1), then ``begin_transaction``, produce, ``send_offsets_to_transaction`` with the generation in
each partition's commit metadata, ``commit_transaction``. If anything fails before the commit
lands, the transaction is aborted, Redis is reconciled back to the committed generation and the
consumer rewinds to the committed offsets: the batch is redone, never half-done.

Only one transaction is open at a time and never across ``consume()``, so a rebalance (whose
callbacks run inside ``consume()``) always finds the previous batch committed or aborted.
"""

from __future__ import annotations

import gc
import logging
import signal
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

import redis
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, Message, TopicPartition

from processor.batch_stats import BatchStats
from processor.checkpointing.metadata import CommitMetadata
from processor.config import PipelinesConfig, Settings
from processor.decide.killswitch import MODES
from processor.errors import ConfigError, ProcessingError
from processor.kafka.clients import make_consumer, make_transactional_producer
from processor.kafka.deadline import call_with_deadline
from processor.kafka.records import to_raw
from processor.logs import input_fields
from processor.messages import RawMessage, Rejected, Scored
from processor.model.rollout_metrics import RolloutMetrics
from processor.monitoring.http import Health
from processor.monitoring.metrics import Metrics
from processor.monitoring.monitor import Monitor, worker_references
from processor.pipeline import Pipeline, PreparedBatch
from processor.serializers.registry import RegistrationRefused, RegistryUnavailable
from processor.serializers.schemas import SchemaStore
from processor.stages.reorder import PartitionBuffer, restore
from processor.state.redis_client import UNAVAILABLE, connect
from processor.state.reorder_store import (
    GenerationConflictError,
    OwnershipLostError,
    StateLostError,
    script_refusal,
)

log = logging.getLogger(__name__)

_TXN_TIMEOUT_S = 15.0
_MAX_BACKOFF_S = 10.0
_UNASSIGNED_GRACE_S = 60.0
_METADATA_TIMEOUT_S = 15.0
_IDLE_PING_S = 5.0


@dataclass(slots=True)
class RunSummary:
    """Totals of committed work since start: what the demo prints."""

    inputs: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    by_type: Counter[tuple[str, str]] = field(default_factory=Counter)
    quarantined: Counter[tuple[str, str]] = field(default_factory=Counter)
    duplicates: int = 0
    late: Counter[str] = field(default_factory=Counter)
    coercions: int = 0
    at_least_once_duplicates: int = 0
    decision_sources: Counter[str] = field(default_factory=Counter)
    transactions: int = 0
    aborts: int = 0
    started: float = field(default_factory=time.monotonic)
    first_input: float | None = None
    last_output: float | None = None
    samples: list[Scored] = field(default_factory=list)

    def consumed(self, now: float) -> None:
        """Input arrived: the throughput clock starts at the first consume, not the first commit
        (which would leave the first batch's processing, and the model's first call, off the clock)."""
        if self.first_input is None:
            self.first_input = now

    def add(self, stats: BatchStats) -> None:
        now = time.monotonic()
        if stats.inputs:
            # throughput spans the batches that consumed input, not the idle flush at the end
            self.consumed(now)
            self.last_output = now
        self.inputs += stats.inputs
        for (event_type, outcome), n in stats.outcomes.items():
            self.outcomes[outcome] += n
            self.by_type[(event_type, outcome)] += n
        self.quarantined.update(stats.quarantined)
        self.duplicates += sum(stats.duplicates.values())
        for (event_type, policy), n in stats.late.items():
            self.late[f"{event_type}:{policy}"] += n
        self.coercions += sum(stats.coercions.values())
        for (_, source, _), n in stats.decisions.items():
            self.decision_sources[source] += n
        if len(self.samples) < 8:
            self.samples.extend(stats.samples[: 8 - len(self.samples)])

    def throughput(self) -> float:
        if self.first_input is None or self.last_output is None or self.last_output <= self.first_input:
            return 0.0
        return self.inputs / (self.last_output - self.first_input)


def freeze_startup_heap() -> None:
    """Put everything alive now out of the cyclic garbage collector's sight (``gc.freeze``).

    Once per service process, after start-up: the models, scikit-learn, SciPy and the schemas live
    as long as the process, and a full collection that walked them took 110-140 ms several times a
    minute, the largest part of the tail latency at half load (6-16 ms once frozen). Not for a
    process that builds processors again and again (tests): cyclic garbage frozen with them would
    never be collected.
    """
    gc.collect()
    gc.freeze()


def _now_ms() -> int:
    return int(time.time() * 1000)


class Processor:
    def __init__(
        self,
        settings: Settings,
        pipelines: PipelinesConfig,
        *,
        metrics: Metrics | None = None,
        schemas: SchemaStore | None = None,
        client: redis.Redis | None = None,
    ) -> None:
        self.settings = settings
        self.metrics = metrics or Metrics.create()
        self.schemas = schemas or SchemaStore(settings.schemas_dir)
        self.client = client or connect(settings.redis)
        self.pipeline = Pipeline(settings, pipelines, self.schemas, self.client)
        self.pipeline.worker.use_metrics(RolloutMetrics.create(self.metrics.registry), self.metrics.model_info)
        self.topic = settings.topics.raw
        self.summary = RunSummary()
        self.health = Health()
        self.health.set_not_ready("kafka", "starting: transactions not initialised yet")
        self._buffers: dict[int, PartitionBuffer] = {}
        self._positions: dict[int, int] = {}  # next offset to commit, per assigned partition
        self._stopping = False
        self._isolating = 0  # messages still to process one by one after a batch raised
        # partition -> [rebuild end offset, events held at the last commit, outputs re-emitted below it]
        self._rebuilds: dict[int, list[int]] = {}
        self._consumer: Consumer | None = None
        self._resumed_at = 0.0  # monotonic time the last dependency outage (Redis, schema registry) ended
        self._producer: Any = None
        self.monitor = Monitor(
            settings.monitoring,
            self.metrics,
            list(pipelines.event_types),
            self.topic,
            references=worker_references(self.pipeline.worker),
            dependencies=self._dependencies,
            lag=self._consumer_lag,
        )

    # -- lifecycle -------------------------------------------------------------------------------

    def stop(self, *_: Any) -> None:
        self._stopping = True

    def install_signal_handlers(self) -> None:
        def handler(signum: int, _frame: FrameType | None) -> None:
            log.info("signal %s: finishing the current batch, then stopping", signum, extra={"signal": signum})
            self.stop()

        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)

    def run(self, max_idle_s: float | None = None) -> RunSummary:
        p = self.settings.processing
        self._register_output_schemas()
        self._new_producer()
        self._consumer = make_consumer(self.settings)
        try:
            self._require_topics(self._consumer)
        except ConfigError:
            self._close()
            raise
        self._consumer.subscribe(
            [self.topic], on_assign=self._on_assign, on_revoke=self._on_revoke, on_lost=self._on_revoke
        )
        self.metrics.healthy.set(1)
        self.health.set_ready("kafka")
        for event_type, version in self.pipeline.worker.versions.items():
            self.metrics.model_info.labels(event_type, version).set(1)
        last_input = time.monotonic()
        unassigned_since: float | None = None
        last_ping = last_input
        try:
            while not self._stopping:
                self.health.beat()
                self.monitor.tick()
                # while isolating a poison event, read one message at a time
                size = 1 if self._isolating > 0 else p.batch_size
                messages = self._consume(self._consumer, size, p.batch_timeout_ms / 1000)
                self._isolating = max(0, self._isolating - len(messages))
                raws = self._raws(messages)
                now = time.monotonic()
                if raws:
                    last_input = now
                    self.summary.consumed(now)
                if self._buffers:
                    unassigned_since = None
                else:
                    # idle means "assigned and nothing to read": while the group is still forming
                    # (a crashed member's session has not expired yet) the clock does not run
                    unassigned_since = unassigned_since or now
                    if now - unassigned_since < _UNASSIGNED_GRACE_S:
                        last_input = now
                # time spent waiting out a dependency is not idleness: the input is still there
                last_input = max(last_input, self._resumed_at)
                idle_exit = max_idle_s is not None and not raws and now - last_input >= max_idle_s
                if raws or self._holding() or idle_exit:
                    self._batch(raws, flush=idle_exit)
                elif now - last_ping >= _IDLE_PING_S:
                    # with no input, Redis is not touched: check it, so readiness tells the truth
                    last_ping = now
                    try:
                        self.client.ping()
                    except UNAVAILABLE as exc:
                        self._redis_outage(exc)
                if idle_exit:
                    log.info("no input for %.1f s: exiting", max_idle_s)
                    break
        finally:
            self.metrics.healthy.set(0)
            self._close()
        return self.summary

    def _require_topics(self, consumer: Consumer) -> None:
        """Stop at once, naming them, when the input or an output topic does not exist.

        Subscribed to a missing topic, a consumer is simply never assigned anything: the process
        would wait silently (``--max-idle`` never started counting).
        """
        t = self.settings.topics
        needed = {"raw": t.raw, "scored": t.scored, "review": t.review, "quarantine": t.quarantine}
        try:
            known = consumer.list_topics(timeout=_METADATA_TIMEOUT_S).topics
        except KafkaException as exc:
            # the broker is not reachable yet (a restart): the consumer waits for it, as before
            log.warning("no topic metadata yet, not checking the topics: %s", exc)
            return
        missing = [f"{name} {topic!r}" for name, topic in needed.items() if topic not in known]
        if missing:
            raise ConfigError(
                "topic_missing",
                f"topics {', '.join(missing)} do not exist on {self.settings.kafka.bootstrap_servers}: create them "
                "(`processor topics create`) or point the settings at the right names (PROCESSOR_TOPICS__RAW ...)",
            )

    def _close(self) -> None:
        if self._consumer is not None:
            try:
                self._consumer.close()  # leaves the group; revocation runs with no open transaction
            except KafkaException as exc:
                log.warning("consumer close: %s", exc)
            self._consumer = None
        if self._producer is not None:
            self._producer.flush(10)
            self._producer = None
        self.pipeline.worker.close()

    # -- one batch -------------------------------------------------------------------------------

    @staticmethod
    def _consume(consumer: Consumer, size: int, timeout_s: float) -> list[Message]:
        """Up to ``size`` messages: waits up to ``timeout_s`` for the first, never to fill the batch.

        What has already been fetched is taken at once. Under load, input queues up while a batch is
        processed and committed, so batches fill by themselves; under light load an event does not
        wait out the timeout for company (at half load that wait was most of the end-to-end latency).
        """
        messages = consumer.consume(size, 0)
        if not messages:
            messages = consumer.consume(1, timeout_s)
            if messages and size > 1:
                messages += consumer.consume(size - 1, 0)
        return messages

    def _raws(self, messages: list[Message]) -> list[RawMessage]:
        raws = []
        for m in messages:
            err = m.error()
            if err is not None:
                # a fatal consumer error (a static member fenced by its own rejoin after a coordinator
                # failover) arrives as an event whose code is _FATAL; the consumer is dead after it
                if err.fatal() or err.code() == KafkaError._FATAL:
                    raise KafkaException(err)
                log.warning("consumer error: %s", err, extra={"error_code": err.name()})
                continue
            if m.partition() not in self._buffers:
                continue  # revoked while the batch was in flight
            raws.append(to_raw(m))
        return raws

    def _holding(self) -> bool:
        return any(len(b) for b in self._buffers.values())

    def _batch(self, raws: list[RawMessage], flush: bool = False) -> None:
        try:
            prepared = self.pipeline.process(raws, self._buffers, flush=flush, keep_samples=2)
        except redis.ResponseError as exc:
            refused = script_refusal(exc)
            if isinstance(refused, OwnershipLostError):
                raise refused from exc
            if isinstance(refused, GenerationConflictError):
                self._generation_conflict(refused)
            else:
                self._redis_outage(exc)
            return
        except UNAVAILABLE as exc:
            self._redis_outage(exc)
            return
        except RegistryUnavailable as exc:
            self._registry_outage(exc)
            return
        except Exception as exc:  # a bug in some stage: isolate the event that triggers it
            if not raws:
                raise
            self._poison(raws, exc)
            return
        touched = {r.partition for r in raws} | {c.partition for c in prepared.changes}
        if not touched:
            return
        for r in raws:
            self._positions[r.partition] = r.offset + 1
        try:
            self._commit(prepared, touched)
        except KafkaException as exc:
            self._on_commit_failure(exc)
            return
        for change in prepared.changes:
            self._buffers[change.partition].generation = change.new_generation
        self._account(prepared)

    def _poison(self, raws: list[RawMessage], exc: Exception) -> None:
        """A stage raised something unexpected. Undo the batch; redo it one message at a time, and
        quarantine (``stage=processing``) the single message that still raises on its own."""
        self._rewind()
        if len(raws) > 1:
            log.warning(
                "batch of %d raised %s: redoing it one message at a time",
                len(raws),
                type(exc).__name__,
                extra={"batch_size": len(raws), "error_type": type(exc).__name__},
            )
            self._isolating = len(raws)
            return
        raw = raws[0]
        log.error(
            "poison event at %s:%d:%d quarantined",
            raw.topic,
            raw.partition,
            raw.offset,
            exc_info=exc,
            extra=input_fields(
                raw.topic,
                raw.partition,
                raw.offset,
                stage="processing",
                error_code="unhandled_exception",
                error_type=type(exc).__name__,
            ),
        )
        error = ProcessingError("unhandled_exception", f"{type(exc).__name__}: {exc}"[:1000], raw=raw).reason()
        stats = BatchStats(inputs=1)
        stats.quarantined[(error.stage, error.code)] += 1
        stats.outcomes[("unknown", "quarantined")] += 1
        prepared = PreparedBatch(
            outputs=[self.pipeline.router.quarantined(Rejected(raw, error), _now_ms())], changes=[], stats=stats
        )
        self._positions[raw.partition] = raw.offset + 1
        try:
            self._commit(prepared, {raw.partition})
        except KafkaException as commit_exc:
            self._on_commit_failure(commit_exc)
            return
        assert self._consumer is not None
        self._consumer.seek(TopicPartition(self.topic, raw.partition, raw.offset + 1))  # _rewind went back to it
        self._account(prepared)

    def _commit(self, prepared: PreparedBatch, touched: set[int]) -> None:
        assert self._producer is not None and self._consumer is not None
        producer = self._producer
        gens = {c.partition: c.new_generation for c in prepared.changes}
        offsets = []
        for partition in sorted(touched):
            buffer = self._buffers[partition]
            position = self._positions.get(partition)
            if position is None:
                continue
            low = buffer.low_offset()
            meta = CommitMetadata(gens.get(partition, buffer.generation), position if low is None else low, len(buffer))
            offsets.append(TopicPartition(self.topic, partition, position, metadata=meta.encode()))
        producer.begin_transaction()
        for record in prepared.outputs:
            while True:
                try:
                    producer.produce(record.topic, record.value, record.key, headers=list(record.headers))
                    break
                except BufferError:
                    producer.poll(0.05)  # local queue full: let deliveries drain
        if offsets:
            group = self._consumer.consumer_group_metadata()
            call_with_deadline(
                "send_offsets_to_transaction",
                lambda: producer.send_offsets_to_transaction(offsets, group, _TXN_TIMEOUT_S),
                _TXN_TIMEOUT_S,
            )
        self._commit_with_retry()

    def _commit_with_retry(self) -> None:
        producer = self._producer
        for attempt in range(3):
            try:
                call_with_deadline(
                    "commit_transaction", lambda: producer.commit_transaction(_TXN_TIMEOUT_S), _TXN_TIMEOUT_S
                )
                return
            except KafkaException as exc:
                err: KafkaError = exc.args[0]
                if err.retriable() and attempt < 2:
                    log.warning(
                        "commit_transaction retriable error, retrying: %s", err, extra={"error_code": err.name()}
                    )
                    continue
                raise

    def _account(self, prepared: PreparedBatch) -> None:
        stats, m = prepared.stats, self.metrics
        if self._rebuilds:
            self._count_rebuild_duplicates(stats)
        self.summary.add(stats)
        self.summary.transactions += 1
        m.transactions.labels("committed").inc()
        m.input_messages.labels(self.topic).inc(stats.inputs)
        if stats.inputs:
            m.batch_messages.observe(stats.inputs)
        for (event_type, outcome), n in stats.outcomes.items():
            m.outcomes.labels(event_type, outcome).inc(n)
        for (stage, code), n in stats.quarantined.items():
            m.quarantined.labels(stage, code).inc(n)
        for event_type, n in stats.duplicates.items():
            m.duplicates.labels(event_type).inc(n)
        for (event_type, policy), n in stats.late.items():
            m.late_events.labels(event_type, policy).inc(n)
        for event_type, n in stats.coercions.items():
            m.coercions.labels(event_type).inc(n)
        for (event_type, source, route), n in stats.decisions.items():
            m.decisions.labels(event_type, source, route).inc(n)
        for (event_type, reason), n in stats.model_failures.items():
            m.model_failures.labels(event_type, reason).inc(n)
        for stage, seconds in stats.stage_seconds.items():
            m.stage_seconds.labels(stage).observe(seconds)
        for event_type, scores in stats.scores.items():
            h = m.score.labels(event_type)
            for s in scores:
                h.observe(s)
        now_ms = time.time() * 1000
        for event_type, stamps in stats.ingest_ms.items():
            h = m.end_to_end_seconds.labels(event_type)
            for ts in stamps:
                h.observe(max(0.0, (now_ms - ts) / 1000))
        for partition, buffer in self._buffers.items():
            m.reorder_buffered.labels(str(partition)).set(len(buffer))
        for event_type, n in stats.killswitched.items():
            m.killswitched_events.labels(event_type).inc(n)
        self.pipeline.worker.account(stats.shadow)
        for scope, state in self.pipeline.killswitch.states().items():
            for mode in MODES:
                m.killswitch.labels(scope, mode).set(1 if state.mode == mode else 0)
            m.killswitch_since.labels(scope).set(state.since_epoch() if state.engaged else 0)
        self.monitor.observe(stats)

    def _dependencies(self) -> dict[str, bool]:
        down = self.health.not_ready_components()
        names = ("redis", "kafka", "schema_registry") if self.pipeline.writers is not None else ("redis", "kafka")
        return {name: name not in down for name in names}

    def _consumer_lag(self) -> dict[int, int]:
        """Per assigned partition, messages between the committed position and the end (cached
        high watermarks from fetch responses: no broker round trip)."""
        if self._consumer is None:
            return {}
        lag = {}
        for partition, position in list(self._positions.items()):
            try:
                _, high = self._consumer.get_watermark_offsets(TopicPartition(self.topic, partition), cached=True)
            except KafkaException:
                continue
            if high >= 0:
                lag[partition] = high - position
        return lag

    def _count_rebuild_duplicates(self, stats: BatchStats) -> None:
        """Every output for an input below the rebuild's end is a re-emission, except for the
        events the lost buffer still held: the excess over those is counted as duplicates."""
        for partition, offset in stats.answered:
            window = self._rebuilds.get(partition)
            if window is None or offset >= window[0]:
                continue
            before = max(0, window[2] - window[1])
            window[2] += 1
            after = max(0, window[2] - window[1])
            if after > before:
                self.metrics.at_least_once_duplicates.inc(after - before)
                self.summary.at_least_once_duplicates += after - before

    # -- failure handling ------------------------------------------------------------------------

    def _on_commit_failure(self, exc: KafkaException) -> None:
        err: KafkaError = exc.args[0]
        self.summary.aborts += 1
        self.metrics.transactions.labels("aborted").inc()
        if err.fatal():
            log.error("fatal producer error, recreating the producer: %s", err, extra={"error_code": err.name()})
            self._new_producer()
        else:
            log.warning("transaction failed, aborting and rewinding: %s", err, extra={"error_code": err.name()})
            producer = self._producer
            try:
                call_with_deadline(
                    "abort_transaction", lambda: producer.abort_transaction(_TXN_TIMEOUT_S), _TXN_TIMEOUT_S
                )
            except KafkaException as abort_exc:
                log.error("abort failed, recreating the producer: %s", abort_exc)
                self._new_producer()
        self._retry_kafka("rewind", self._rewind)

    def _new_producer(self) -> None:
        """A fresh transactional producer; initialising it fences any previous instance of ours."""

        def create() -> None:
            producer = make_transactional_producer(self.settings)
            call_with_deadline("init_transactions", lambda: producer.init_transactions(_TXN_TIMEOUT_S), _TXN_TIMEOUT_S)
            self._producer = producer

        self._retry_kafka("init_transactions", create)

    def _retry_kafka(self, what: str, fn: Callable[[], None]) -> None:
        """Retry a recovery step while the broker is away (a restart takes seconds)."""
        backoff = 0.5
        while True:
            try:
                fn()
                self.health.set_ready("kafka")
                return
            except KafkaException as exc:
                if self._stopping:
                    raise
                self.health.set_not_ready("kafka", f"{what} failing: {exc}")
                log.warning(
                    "%s failed (%s); retrying in %.1f s",
                    what,
                    exc,
                    backoff,
                    extra={"dependency": "kafka", "operation": what, "retry_in_s": backoff},
                )
                self.health.beat()
                time.sleep(backoff)
                backoff = min(backoff * 2, _MAX_BACKOFF_S)

    def _generation_conflict(self, exc: GenerationConflictError) -> None:
        """Redis refused a buffer change: it holds another generation than the batch was built on.
        Redis answered, so the processor stays healthy; nothing was committed, and the rewind to
        the last commit reconciles the partition (or rebuilds it, when Redis lost its state)."""
        log.error("%s; redoing the batch from the last commit", exc, extra={"error_code": exc.code})
        try:
            self._rewind()
        except UNAVAILABLE as again:
            self._redis_outage(again)

    def _redis_outage(self, exc: Exception) -> None:
        """Redis failed mid-batch: nothing was committed. Wait for it, then redo from the commit."""
        self._wait_out("redis", "Redis", exc, self.client.ping, UNAVAILABLE, _MAX_BACKOFF_S)

    def _wait_out(
        self,
        dependency: str,
        label: str,
        exc: Exception,
        probe: Callable[[], object],
        transient: tuple[type[Exception], ...],
        max_backoff_s: float,
    ) -> bool:
        """A dependency failed mid-batch, before the commit: mark it not ready, retry with backoff
        until ``probe`` answers, then rewind to the last commit (the batch is redone). Errors of
        the ``transient`` kinds, from the probe or the rewind, mean "not yet". True once resumed,
        False when the process is stopping."""
        self.metrics.healthy.set(0)
        self.health.set_not_ready(dependency, f"unreachable: {exc}")
        backoff = 0.5
        while not self._stopping:
            self.health.beat()  # waiting for a dependency is the loop doing its job, not a stall
            log.warning(
                "%s unavailable (%s); retrying in %.1f s",
                label,
                exc,
                backoff,
                extra={"dependency": dependency, "error_type": type(exc).__name__, "retry_in_s": backoff},
            )
            time.sleep(backoff)
            try:
                probe()
                self._rewind()
            except transient as again:
                exc = again
                backoff = min(backoff * 2, max_backoff_s)
                continue
            self.metrics.healthy.set(1)
            self.health.set_ready(dependency)
            self._resumed_at = time.monotonic()
            log.info("%s is back: resumed from the last commit", label, extra={"dependency": dependency})
            return True
        return False

    def _register_output_schemas(self) -> None:
        """With ``avro-registry`` outputs, know every output schema's id before the first batch,
        waiting for the registry when it does not answer yet."""
        backoff = 0.5
        while True:
            try:
                self.pipeline.register_outputs()
                return
            except RegistrationRefused as exc:
                raise ConfigError("output_schema_refused", str(exc)) from exc
            except RegistryUnavailable as exc:
                if self._stopping:
                    raise
                self.health.set_not_ready("schema_registry", f"unreachable: {exc}")
                log.warning(
                    "registering the output schemas: schema registry unavailable (%s); retrying in %.1f s",
                    exc,
                    backoff,
                    extra={"dependency": "schema_registry", "retry_in_s": backoff},
                )
                time.sleep(backoff)
                backoff = min(backoff * 2, self.settings.schema_registry.max_backoff_s)

    def _registry_outage(self, exc: Exception) -> None:
        """The schema registry could not be asked for a writer schema (or an output schema's id)
        mid-batch: nothing was committed and nothing is quarantined for it. Waited out exactly as
        a Redis outage (the rewind needs Redis too: its errors also mean "not yet")."""
        self.metrics.dependency_up.labels("schema_registry").set(0)  # the monitor does not tick meanwhile
        transient: tuple[type[Exception], ...] = (RegistryUnavailable, *UNAVAILABLE)
        limit = self.settings.schema_registry.max_backoff_s
        if self._wait_out("schema_registry", "schema registry", exc, self.pipeline.registry_ping, transient, limit):
            self.metrics.dependency_up.labels("schema_registry").set(1)

    def _rewind(self) -> None:
        """Back to the last commit: Redis reconciled, buffers reloaded, consumer seeked."""
        assert self._consumer is not None
        partitions = [TopicPartition(self.topic, p) for p in self._buffers]
        if not partitions:
            return
        committed = self._consumer.committed(partitions, timeout=_TXN_TIMEOUT_S)
        for tp in committed:
            rebuild_from = self._load_partition(tp, claim=False)
            offset = tp.offset if tp.offset >= 0 else OFFSET_BEGINNING
            if rebuild_from is not None:
                offset = rebuild_from
            self._consumer.seek(TopicPartition(self.topic, tp.partition, offset))

    # -- rebalance -------------------------------------------------------------------------------

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        committed = consumer.committed(partitions, timeout=_TXN_TIMEOUT_S)
        for tp in committed:
            rebuild_from = self._load_partition_retrying(tp)
            if rebuild_from is not None:
                tp.offset = rebuild_from
            else:
                tp.offset = tp.offset if tp.offset >= 0 else OFFSET_BEGINNING
        consumer.assign(committed)
        assigned = sorted(tp.partition for tp in committed)
        log.info("assigned %s", assigned, extra={"topic": self.topic, "partitions": assigned})

    def _load_partition_retrying(self, tp: TopicPartition) -> int | None:
        """``_load_partition`` on assignment, waiting Redis out (a Redis Cluster failover takes
        seconds): an error escaping a rebalance callback would end the process."""
        backoff = 0.5
        while True:
            try:
                result = self._load_partition(tp)
                self.health.set_ready("redis")
                return result
            except UNAVAILABLE as exc:
                if self._stopping:
                    raise
                self.health.set_not_ready("redis", f"unreachable: {exc}")
                log.warning(
                    "loading partition %d: Redis unavailable (%s); retrying in %.1f s", tp.partition, exc, backoff
                )
                self.health.beat()
                time.sleep(backoff)
                backoff = min(backoff * 2, _MAX_BACKOFF_S)

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        for tp in partitions:
            self._buffers.pop(tp.partition, None)
            self._positions.pop(tp.partition, None)
        revoked = sorted(tp.partition for tp in partitions)
        log.info("revoked %s", revoked, extra={"topic": self.topic, "partitions": revoked})

    def _load_partition(self, tp: TopicPartition, claim: bool = True) -> int | None:
        """Claim the partition's Redis state (on assignment), reconcile it with the committed
        generation and load the buffer.

        Returns an offset to seek back to when Redis had lost the partition's state. Raises
        OwnershipLostError when another process claimed the partition since this one did.
        """
        meta = CommitMetadata.decode(tp.metadata) if tp.offset >= 0 else None
        generation = meta.generation if meta is not None else 0
        store = self.pipeline.store
        if claim:
            owner = f"{self.settings.kafka.effective_transactional_id()}:{uuid.uuid4().hex[:8]}"
            store.claim(self.topic, tp.partition, owner)
        else:
            owner = self._buffers[tp.partition].owner if tp.partition in self._buffers else ""
        rebuild_from = None
        try:
            undone = store.reconcile(self.topic, tp.partition, generation, owner)
            if undone:
                log.info(
                    "partition %d: undid %d uncommitted generation(s) in Redis",
                    tp.partition,
                    undone,
                    extra={"topic": self.topic, "partition": tp.partition, "generations_undone": undone},
                )
                self.metrics.generations_undone.inc(undone)
        except StateLostError as exc:
            assert meta is not None
            log.error(
                "%s; rebuilding from offset %d (at-least-once for this stretch)",
                exc,
                meta.low_offset,
                extra=input_fields(self.topic, tp.partition, meta.low_offset, error_code="state_lost"),
            )
            self.metrics.state_rebuilds.inc()
            store.reset(self.topic, tp.partition, generation, owner)
            rebuild_from = meta.low_offset
            self._rebuilds[tp.partition] = [tp.offset, meta.held, 0]
        stored = store.load(self.topic, tp.partition)
        self._buffers[tp.partition] = restore(self.topic, tp.partition, stored, time.monotonic(), owner)
        if tp.offset >= 0:
            self._positions[tp.partition] = rebuild_from if rebuild_from is not None else tp.offset
        else:
            self._positions.pop(tp.partition, None)
        return rebuild_from
