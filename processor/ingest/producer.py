"""The gateway's Kafka producer: idempotent, keyed by entity id, with a bounded in-flight window.

A request's events are admitted all together or not at all: when Kafka is slow and the window
of unacknowledged messages is full, the request gets 503 with ``Retry-After`` instead of the
gateway buffering without bound. An admitted request waits for Kafka's acknowledgement, so a
202 means the events are durably in ``events.raw``; past the delivery timeout the client gets a
503 and may retry safely (event ids are stable; the processor drops the copy).

Delivery callbacks run on a poll thread and are handed to the event loop; a second thread keeps
readiness current by asking the broker for the raw topic's metadata.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Producer

from processor.config import IngestSettings, KafkaSettings
from processor.ingest.envelope import CheckedEvent
from processor.ingest.metrics import IngestMetrics
from processor.monitoring.http import Health

log = logging.getLogger("processor.ingest")

_READINESS_INTERVAL_S = 5.0


class Backpressure(Exception):
    """The in-flight window cannot take this request now."""


class DeliveryTimeout(Exception):
    """Kafka did not acknowledge in time; the events may still arrive (retry is safe)."""


@dataclass(frozen=True)
class Delivery:
    event_id: str
    partition: int | None = None
    offset: int | None = None
    #: librdkafka's error name when Kafka refused the message, else None.
    error: str | None = None


def producer_config(kafka: KafkaSettings, ingest: IngestSettings) -> dict[str, Any]:
    conf = kafka.client_config()
    conf.update(
        {
            "enable.idempotence": True,  # acks=all, no duplicates or reordering from internal retries
            "acks": "all",
            "linger.ms": 5,
            "compression.type": "lz4",
            "partitioner": "murmur2_random",  # the key -> partition mapping of the Java clients
            "message.max.bytes": max(ingest.max_event_bytes, ingest.max_webhook_bytes) + 65_536,
            # the in-flight window is enforced here first; librdkafka's own cap is a backstop
            "queue.buffering.max.messages": ingest.max_in_flight * 2,
            # a message Kafka cannot take for this long fails; its slot in the window comes back
            "message.timeout.ms": 120_000,
        }
    )
    return conf


class EventProducer:
    def __init__(
        self,
        kafka: KafkaSettings,
        ingest: IngestSettings,
        topic: str,
        metrics: IngestMetrics,
        health: Health,
    ) -> None:
        self._producer = Producer(producer_config(kafka, ingest), error_cb=self._on_error, logger=log)
        self._topic = topic
        self._max_in_flight = ingest.max_in_flight
        self._timeout_s = ingest.delivery_timeout_s
        self._metrics = metrics
        self._health = health
        self._lock = threading.Lock()
        self._in_flight = 0
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._poll, name="ingest-producer-poll", daemon=True),
            threading.Thread(target=self._watch_broker, name="ingest-readiness", daemon=True),
        ]
        health.set_not_ready("kafka", "not checked yet")

    @property
    def in_flight(self) -> int:
        return self._in_flight

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def close(self, timeout_s: float = 10.0) -> int:
        """Deliver what is queued (up to the timeout), stop the threads; returns messages left undelivered."""
        left = int(self._producer.flush(timeout_s))
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout_s)
        if left:
            log.error("%d events were not acknowledged by Kafka at shutdown", left)
        return left

    async def send(self, events: Sequence[CheckedEvent], headers: Sequence[tuple[str, bytes]] = ()) -> list[Delivery]:
        """Produce every event (key: entity id) and wait for Kafka's acknowledgements.

        Raises ``Backpressure`` before producing anything when the window is full, and
        ``DeliveryTimeout`` when an acknowledgement takes longer than the delivery timeout.
        """
        if not events:
            return []
        self._reserve(len(events))
        loop = asyncio.get_running_loop()
        futures: list[asyncio.Future[Delivery]] = []
        for event in events:
            future: asyncio.Future[Delivery] = loop.create_future()
            futures.append(future)
            try:
                self._producer.produce(
                    self._topic,
                    event.value,
                    event.entity_id.encode("utf-8"),
                    headers=list(headers),
                    on_delivery=self._callback(loop, future, event.event_id, time.monotonic()),
                )
            except (BufferError, KafkaException) as exc:  # refused before queueing: the slot is free again
                self._release(1)
                reason = (
                    "queue_full" if isinstance(exc, BufferError) else _error_name(exc.args[0] if exc.args else None)
                )
                self._metrics.produce_failures.labels(reason).inc()
                future.set_result(Delivery(event.event_id, error=reason))
        try:
            return list(await asyncio.wait_for(asyncio.gather(*futures), self._timeout_s))
        except TimeoutError:
            self._metrics.produce_failures.labels("timeout").inc()
            raise DeliveryTimeout(
                f"Kafka did not acknowledge within {self._timeout_s:g} s; retrying is safe (same event ids)"
            ) from None

    # -- the window ----------------------------------------------------------------------------

    def _reserve(self, count: int) -> None:
        with self._lock:
            if self._in_flight + count > self._max_in_flight:
                self._metrics.produce_failures.labels("backpressure").inc(count)
                raise Backpressure(
                    f"{self._in_flight} events are waiting for Kafka (window {self._max_in_flight}); "
                    f"this request has {count}"
                )
            self._in_flight += count
            self._metrics.in_flight.set(self._in_flight)

    def _release(self, count: int) -> None:
        with self._lock:
            self._in_flight -= count
            self._metrics.in_flight.set(self._in_flight)

    def _callback(
        self, loop: asyncio.AbstractEventLoop, future: asyncio.Future[Delivery], event_id: str, started: float
    ) -> Any:
        def delivered(err: KafkaError | None, msg: Any) -> None:
            self._release(1)
            if err is None:
                self._metrics.produce_seconds.observe(time.monotonic() - started)
                result = Delivery(event_id, msg.partition(), msg.offset())
            else:
                self._metrics.produce_failures.labels(_error_name(err)).inc()
                result = Delivery(event_id, error=_error_name(err))
            with contextlib.suppress(RuntimeError):  # the loop is gone (shutdown): nobody waits any more
                loop.call_soon_threadsafe(_settle, future, result)

        return delivered

    # -- threads -------------------------------------------------------------------------------

    def _poll(self) -> None:
        while not self._stop.is_set():
            self._producer.poll(0.1)
            self._health.beat()

    def _watch_broker(self) -> None:
        while not self._stop.is_set():
            try:
                metadata = self._producer.list_topics(self._topic, timeout=3.0)
                topic = metadata.topics.get(self._topic)
                if topic is None or topic.error is not None:
                    self._health.set_not_ready("kafka", f"topic {self._topic}: {topic.error if topic else 'missing'}")
                else:
                    self._health.set_ready("kafka")
            except KafkaException as exc:
                self._health.set_not_ready("kafka", f"broker unreachable: {exc}")
            self._stop.wait(_READINESS_INTERVAL_S)

    def _on_error(self, err: KafkaError) -> None:
        if err.fatal():
            # an idempotent producer's fatal error (e.g. a sequence gap) cannot be recovered in
            # this process: fail liveness so the supervisor restarts the gateway
            self._health.stall_after_s = 0.0
            log.critical("fatal producer error, the gateway must be restarted: %s", err)
        else:
            log.warning("kafka: %s", err)


def _settle(future: asyncio.Future[Delivery], result: Delivery) -> None:
    if not future.done():  # the request may have timed out and gone
        future.set_result(result)


def _error_name(err: Any) -> str:
    if isinstance(err, KafkaError):
        return str(err.name()).lower()
    return "kafka_error"
