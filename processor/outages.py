"""A dependency failed mid-batch: wait it out, then redo the batch from the last commit.

Redis (unreachable, or refusing a buffer change written on another generation than the batch
was built on) and the schema registry (a writer schema or an output schema id that could not be
asked for) fail a batch before its commit: nothing of it was committed and nothing is quarantined
for it. The processor reports itself unhealthy, waits with backoff until the dependency answers,
rewinds to the last commit (which reconciles Redis) and goes on: the batch is redone. A batch
whose partition another process has claimed meanwhile is not redone: ``OwnershipLostError``
ends this process (its partitions are someone else's now).

At start-up, with ``avro-registry`` outputs, the registry is waited for the same way before the
first batch (``register_outputs``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import redis
from confluent_kafka import Consumer

from processor.backoff import LABELS, MAX_WAIT_S, Backoff
from processor.errors import ConfigError
from processor.monitoring.metrics import Metrics
from processor.partitions import Partitions
from processor.pipeline import Pipeline
from processor.serializers.registry import RegistrationRefused, RegistryUnavailable
from processor.state.redis_client import UNAVAILABLE
from processor.state.reorder_store import GenerationConflictError, OwnershipLostError, script_refusal

log = logging.getLogger(__name__)


class Outages:
    def __init__(
        self,
        backoff: Backoff,
        partitions: Partitions,
        metrics: Metrics,
        pipeline: Pipeline,
    ) -> None:
        self._backoff = backoff
        self._partitions = partitions
        self._metrics = metrics
        self._client = pipeline.client
        self._pipeline = pipeline
        self._registry_max_wait_s = pipeline.settings.schema_registry.max_backoff_s
        #: Monotonic time the last outage ended: the wait was not idleness (the input is still there).
        self.resumed_at = 0.0

    def handle(self, exc: Exception, consumer: Consumer) -> bool:
        """True when ``exc`` is a dependency's failure, now waited out (the batch will be redone);
        False when it is something else (a bug in a stage)."""
        if isinstance(exc, redis.ResponseError):
            refused = script_refusal(exc)
            if isinstance(refused, OwnershipLostError):
                raise refused from exc
            if isinstance(refused, GenerationConflictError):
                # Redis answered, so the processor stays healthy; the rewind to the last commit
                # reconciles the partition (or rebuilds it, when Redis lost its state)
                log.error("%s; redoing the batch from the last commit", refused, extra={"error_code": refused.code})
                try:
                    self._partitions.rewind(consumer)
                    return True
                except UNAVAILABLE as again:
                    exc = again
            self.redis_down(exc, consumer)
            return True
        if isinstance(exc, UNAVAILABLE):
            self.redis_down(exc, consumer)
            return True
        if isinstance(exc, RegistryUnavailable):
            up = self._metrics.dependency_up.labels("schema_registry")
            up.set(0)  # the monitor does not tick meanwhile
            # the rewind needs Redis too: its errors also mean "not yet"
            transient: tuple[type[Exception], ...] = (RegistryUnavailable, *UNAVAILABLE)
            if self._wait_out(
                consumer, "schema_registry", exc, self._pipeline.registry_ping, transient, self._registry_max_wait_s
            ):
                up.set(1)
            return True
        return False

    def register_outputs(self) -> None:
        """With ``avro-registry`` outputs, know every output schema's id before the first batch,
        waiting for the registry when it does not answer yet."""
        try:
            self._backoff.retry(
                "registering the output schemas",
                self._pipeline.register_outputs,
                dependency="schema_registry",
                transient=(RegistryUnavailable,),
                max_wait_s=self._registry_max_wait_s,
            )
        except RegistrationRefused as exc:
            raise ConfigError("output_schema_refused", str(exc)) from exc

    def ping_redis(self, consumer: Consumer) -> None:
        """With no input Redis is not touched: check it, so readiness tells the truth."""
        try:
            self._client.ping()
        except UNAVAILABLE as exc:
            self.redis_down(exc, consumer)

    def redis_down(self, exc: Exception, consumer: Consumer) -> None:
        self._wait_out(consumer, "redis", exc, self._client.ping, UNAVAILABLE, MAX_WAIT_S)

    def _wait_out(
        self,
        consumer: Consumer,
        dependency: str,
        exc: Exception,
        probe: Callable[[], object],
        transient: tuple[type[Exception], ...],
        max_wait_s: float,
    ) -> bool:
        """Wait until ``probe`` answers, then rewind to the last commit. True once resumed,
        False when the process is stopping."""
        self._metrics.healthy.set(0)

        def resume() -> None:
            probe()
            self._partitions.rewind(consumer)

        operation = "resuming from the last commit"
        if not self._backoff.wait_out(
            operation, resume, failed=exc, dependency=dependency, transient=transient, max_wait_s=max_wait_s
        ):
            return False
        self._metrics.healthy.set(1)
        self.resumed_at = time.monotonic()
        log.info("%s is back: resumed from the last commit", LABELS[dependency], extra={"dependency": dependency})
        return True
