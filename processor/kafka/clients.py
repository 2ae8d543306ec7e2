"""Kafka client configuration, in one place, from settings."""

from __future__ import annotations

import uuid
from typing import Any

from confluent_kafka import Consumer, Producer

from processor.config import Settings

#: Outputs embed inputs (quarantine forwards the original bytes, base64 in JSON), so they can be
#: larger than any input; producer and topics allow for that.
MAX_OUTPUT_MESSAGE_BYTES = 8 * 1024 * 1024


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
            "linger.ms": 5,
            "partitioner": "murmur2_random",  # same key -> partition mapping as Java clients
            "compression.type": "lz4",
            "message.max.bytes": MAX_OUTPUT_MESSAGE_BYTES + 65_536,
            "transaction.timeout.ms": settings.kafka.transaction_timeout_ms,
        }
    )
    return conf


def make_consumer(settings: Settings) -> Consumer:
    return Consumer(consumer_config(settings))


def make_transactional_producer(settings: Settings) -> Producer:
    return Producer(transactional_producer_config(settings))
