"""The loop: consume a batch, run the pipeline, commit outputs and offsets in one transaction.

Consume-transform-produce with Kafka transactions (docs/design.md §5). One batch:

1. ``consume_batch`` (kafka/consuming.py) reads what is fetched, waiting only for the first message;
2. ``Pipeline.process`` (pipeline.py) runs the stages and applies the batch's reorder-buffer
   change to Redis as generation g+1;
3. ``Checkpointer.commit`` (checkpointing/transaction.py) produces the outputs and commits them
   with the input offsets and their ``CommitMetadata`` in one transaction;
4. ``Accounting.committed`` (monitoring/accounting.py) counts the committed batch.

If anything fails before the commit lands, nothing of the batch is kept: the transaction is
aborted and ``Partitions.rewind`` (partitions.py) reconciles Redis to the committed generation and
seeks back to the committed offsets, so the batch is redone. A dependency that is away is waited
out (backoff.py); a stage that raises on some event is handled by the poison policy (poison.py).

Only one transaction is open at a time and never across ``consume()``, so a rebalance (whose
callbacks, in partitions.py, run inside ``consume()``) always finds the last batch committed or
aborted.
"""

from __future__ import annotations

import gc
import logging
import signal
import time
from types import FrameType
from typing import Any

import redis
from confluent_kafka import Consumer, KafkaException, TopicPartition

from processor.backoff import Backoff
from processor.checkpointing.transaction import Checkpointer, commit_offsets
from processor.config import PipelinesConfig, Settings
from processor.errors import ConfigError
from processor.kafka.admin import require_topics
from processor.kafka.clients import make_consumer
from processor.kafka.consuming import consume_batch, raws_of
from processor.messages import RawMessage
from processor.monitoring.accounting import Accounting, RunSummary
from processor.monitoring.http import Health
from processor.monitoring.metrics import Metrics
from processor.monitoring.monitor import Monitor, worker_references
from processor.outages import Outages
from processor.partitions import Partitions
from processor.pipeline import Pipeline, PreparedBatch
from processor.poison import PoisonPolicy
from processor.serializers.schemas import SchemaStore
from processor.serving.rollout_metrics import RolloutMetrics
from processor.state.redis_client import connect

__all__ = ["Processor", "RunSummary", "freeze_startup_heap"]

log = logging.getLogger(__name__)

_UNASSIGNED_GRACE_S = 60.0
_IDLE_PING_S = 5.0


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
        self.health = Health()
        self.health.set_not_ready("kafka", "starting: transactions not initialised yet")
        self._stopping = False
        self._consumer: Consumer | None = None
        self.backoff = Backoff(self.health, lambda: self._stopping)
        owner = settings.kafka.effective_transactional_id()
        self.partitions = Partitions(self.topic, owner, self.pipeline.store, self.metrics, self.backoff)
        self.checkpoint = Checkpointer(settings, self.backoff)
        self.poison = PoisonPolicy(self.pipeline.router)
        self.outages = Outages(self.backoff, self.partitions, self.metrics, self.pipeline)
        self.monitor = Monitor(
            settings.monitoring,
            self.metrics,
            list(pipelines.event_types),
            self.topic,
            references=worker_references(self.pipeline.worker),
            dependencies=self._dependencies,
            lag=lambda: self.partitions.lag(self._consumer),
        )
        self.accounting = Accounting(
            self.metrics, self.topic, self.pipeline.worker, self.pipeline.killswitch, self.monitor
        )
        self.summary = self.accounting.summary

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
        self.outages.register_outputs()
        self.checkpoint.start()
        consumer = self._consumer = make_consumer(self.settings)
        try:
            require_topics(consumer, self.settings)
        except ConfigError:
            self._close()
            raise
        parts = self.partitions
        consumer.subscribe([self.topic], on_assign=parts.on_assign, on_revoke=parts.on_revoke, on_lost=parts.on_revoke)
        self.metrics.healthy.set(1)
        self.health.set_ready("kafka")
        for event_type, version in self.pipeline.worker.versions.items():
            self.metrics.model_info.labels(event_type, version).set(1)
        last_input = last_ping = time.monotonic()
        unassigned_since: float | None = None
        try:
            while not self._stopping:
                self.health.beat()
                self.monitor.tick()
                messages = consume_batch(consumer, self.poison.batch_size(p.batch_size), p.batch_timeout_ms / 1000)
                self.poison.consumed(len(messages))
                raws = raws_of(messages, parts.assigned)
                now = time.monotonic()
                if raws:
                    last_input = now
                    self.summary.consumed(now)
                if parts.buffers:
                    unassigned_since = None
                else:
                    # idle means "assigned and nothing to read": while the group is still forming
                    # (a crashed member's session has not expired yet) the clock does not run
                    unassigned_since = unassigned_since or now
                    if now - unassigned_since < _UNASSIGNED_GRACE_S:
                        last_input = now
                # time spent waiting out a dependency is not idleness: the input is still there
                last_input = max(last_input, self.outages.resumed_at)
                idle_exit = max_idle_s is not None and not raws and now - last_input >= max_idle_s
                if raws or parts.holding() or idle_exit:
                    self._batch(consumer, raws, flush=idle_exit)
                elif now - last_ping >= _IDLE_PING_S:
                    last_ping = now
                    self.outages.ping_redis(consumer)
                if idle_exit:
                    log.info("no input for %.1f s: exiting", max_idle_s)
                    break
        finally:
            self.metrics.healthy.set(0)
            self._close()
        return self.summary

    def _close(self) -> None:
        if self._consumer is not None:
            try:
                self._consumer.close()  # leaves the group; revocation runs with no open transaction
            except KafkaException as exc:
                log.warning("consumer close: %s", exc)
            self._consumer = None
        self.checkpoint.close()
        self.pipeline.worker.close()

    def _batch(self, consumer: Consumer, raws: list[RawMessage], flush: bool = False) -> None:
        try:
            prepared = self.pipeline.process(raws, self.partitions.buffers, flush=flush, keep_samples=2)
        except Exception as exc:
            if self.outages.handle(exc, consumer):
                return  # waited out and rewound: the batch is redone
            if not raws:
                raise
            # a bug in some stage: undo the batch, and isolate the event that triggers it
            self.partitions.rewind(consumer)
            quarantine = self.poison.isolate(raws, exc)
            if quarantine is not None:
                raw = raws[0]
                self.partitions.advance(raws)
                if self._commit(consumer, quarantine, {raw.partition}):  # the rewind went back to it
                    consumer.seek(TopicPartition(self.topic, raw.partition, raw.offset + 1))
            return
        touched = {r.partition for r in raws} | {c.partition for c in prepared.changes}
        if touched:
            self.partitions.advance(raws)
            self._commit(consumer, prepared, touched)

    def _commit(self, consumer: Consumer, prepared: PreparedBatch, touched: set[int]) -> bool:
        """Commit the batch, or abort it and rewind to the last commit (it will be redone)."""
        parts = self.partitions
        offsets = commit_offsets(self.topic, touched, parts.positions, parts.buffers, prepared.changes)
        try:
            self.checkpoint.commit(consumer, prepared.outputs, offsets)
        except KafkaException as exc:
            self.accounting.aborted()
            self.checkpoint.abort(exc)
            parts.rewind_waiting(consumer)
            return False
        parts.committed(prepared.changes)
        self.accounting.committed(prepared.stats, parts.buffers, parts.rebuild_duplicates(prepared.stats))
        return True

    def _dependencies(self) -> dict[str, bool]:
        down = self.health.not_ready_components()
        names = ("redis", "kafka", "schema_registry") if self.pipeline.writers is not None else ("redis", "kafka")
        return {name: name not in down for name in names}
