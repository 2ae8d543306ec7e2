"""Kafka client configuration, in one place, from settings."""

from __future__ import annotations

import uuid
from typing import Any

from confluent_kafka import Consumer, Producer

from processor.config import Settings

#: Outputs embed inputs (quarantine forwards the original bytes, base64 in JSON), so they can be
#: larger than any input; producer and topics allow for that.
MAX_OUTPUT_MESSAGE_BYTES = 8 * 1024 * 1024

#: What the consumer may hold fetched ahead of the loop, and fetch in one response. librdkafka's
#: defaults (100,000 messages per partition, 64 MB queued, 50 MB per fetch) are sized for clients
#: that hand messages on as fast as they come; this loop takes at most ``batch_size`` per
#: transaction, so a few batches ahead keep it fed, and the rest was resident memory that grew
#: with the partitions assigned (docs/capacity.md, "Memory").
_PREFETCH_BATCHES = 4
_QUEUED_MAX_KBYTES = 16 * 1024
_FETCH_MAX_BYTES = 8 * 1024 * 1024
_FETCH_QUEUE_BACKOFF_MS = 10
#: The producer's local queue: one batch's outputs wait there until its transaction commits.
_PRODUCER_QUEUE_KBYTES = 32 * 1024


def consumer_config(settings: Settings) -> dict[str, Any]:
    conf = settings.kafka.client_config()
    conf.update(
        {
            "group.id": settings.kafka.group_id,
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "auto.offset.reset": "earliest",
            # producers upstream may be transactional too: never read what they aborted
            "isolation.level": "read_committed",
            "enable.partition.eof": False,
            "partition.assignment.strategy": "range",
            "session.timeout.ms": settings.kafka.session_timeout_ms,
            "max.poll.interval.ms": 300_000,
            # per partition, in messages; and over all partitions, in kilobytes
            "queued.min.messages": max(1_000, _PREFETCH_BATCHES * settings.processing.batch_size),
            "queued.max.messages.kbytes": _QUEUED_MAX_KBYTES,
            "fetch.max.bytes": max(_FETCH_MAX_BYTES, settings.processing.max_message_bytes),
            # once the queue is over those bounds, librdkafka waits this long before it fetches that
            # partition again; its default (1 s) starved the loop: the passthrough fell from 31,000
            # to 7,400 events/s with the bounds and 1 s, and is back at 31,000 with 10 ms
            "fetch.queue.backoff.ms": _FETCH_QUEUE_BACKOFF_MS,
        }
    )
    if settings.kafka.static_membership:
        conf["group.instance.id"] = settings.kafka.effective_transactional_id()
    return conf


def reader_config(settings: Settings, purpose: str) -> dict[str, Any]:
    """A throwaway consumer that reads committed records from the start of what it is assigned
    (audits, the quarantine CLI, training from a topic): its own group, nothing committed."""
    conf = settings.kafka.client_config()
    conf.update(
        {
            "group.id": f"{purpose}-{uuid.uuid4().hex[:12]}",
            "enable.auto.commit": False,
            "isolation.level": "read_committed",
            "auto.offset.reset": "earliest",
        }
    )
    return conf


def transactional_producer_config(settings: Settings) -> dict[str, Any]:
    conf = settings.kafka.client_config()
    conf.update(
        {
            "transactional.id": settings.kafka.effective_transactional_id(),
            "enable.idempotence": True,
            "acks": "all",
            # a batch's outputs are produced in one burst right before its commit, which then waits for
            # them: lingering only delayed that commit (median commit_transaction 10.9 -> 6.1 ms, and
            # p50/p99 at 2,500 events/s lower in three interleaved latency runs)
            "linger.ms": 0,
            "partitioner": "murmur2_random",  # same key -> partition mapping as Java clients
            "compression.type": "lz4",
            "message.max.bytes": MAX_OUTPUT_MESSAGE_BYTES + 65_536,
            "transaction.timeout.ms": settings.kafka.transaction_timeout_ms,
            # a full queue raises BufferError, which the commit waits out (processor/checkpointing/transaction.py)
            "queue.buffering.max.kbytes": _PRODUCER_QUEUE_KBYTES,
        }
    )
    return conf


def make_consumer(settings: Settings) -> Consumer:
    return Consumer(consumer_config(settings))


def make_transactional_producer(settings: Settings) -> Producer:
    return Producer(transactional_producer_config(settings))
