"""Reading a batch: take what is fetched at once, wait only for the first message, drop errors."""

from __future__ import annotations

import logging
from collections.abc import Callable

from confluent_kafka import Consumer, KafkaError, KafkaException, Message

from processor.kafka.records import to_raw
from processor.messages import RawMessage

log = logging.getLogger(__name__)


def consume_batch(consumer: Consumer, size: int, timeout_s: float) -> list[Message]:
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


def raws_of(messages: list[Message], assigned: Callable[[int], bool]) -> list[RawMessage]:
    """The batch's input records: consumer error events are logged and skipped (a fatal one
    raises), and so are messages of partitions no longer ``assigned``."""
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
        partition = m.partition()
        if partition is None or not assigned(partition):
            continue  # revoked while the batch was in flight
        raws.append(to_raw(m))
    return raws
