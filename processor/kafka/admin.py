"""The processor's topics: create them (idempotent, ``processor topics create``), or check they exist."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from confluent_kafka import Consumer, KafkaError, KafkaException
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from processor.config import Settings
from processor.errors import ConfigError
from processor.kafka.clients import MAX_OUTPUT_MESSAGE_BYTES

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TopicResult:
    name: str
    partitions: int
    created: bool


def create_topics(settings: Settings, timeout_s: float = 30.0) -> list[TopicResult]:
    t = settings.topics
    # with acks=all, a write is acknowledged once min.insync.replicas replicas have it
    isr = {} if t.min_insync_replicas is None else {"min.insync.replicas": str(t.min_insync_replicas)}
    big = {"max.message.bytes": str(MAX_OUTPUT_MESSAGE_BYTES), **isr}
    wanted = [
        # the input accepts values a little over the processor's limit, so oversized events
        # reach the processor and get quarantined instead of bouncing at the producer
        NewTopic(
            t.raw, t.raw_partitions, t.replication_factor, config={"max.message.bytes": str(4 * 1024 * 1024), **isr}
        ),
        NewTopic(t.scored, t.output_partitions, t.replication_factor, config=dict(isr)),
        NewTopic(t.review, t.output_partitions, t.replication_factor, config=big),
        NewTopic(t.quarantine, t.output_partitions, t.replication_factor, config=big),
        NewTopic(t.feedback, t.output_partitions, t.replication_factor, config=dict(isr)),
    ]
    if settings.models.shadow_topic:  # shadow-model comparisons, when configured
        wanted.append(NewTopic(settings.models.shadow_topic, t.output_partitions, t.replication_factor))
    admin = AdminClient(settings.kafka.client_config())
    futures = admin.create_topics(wanted, operation_timeout=timeout_s, request_timeout=timeout_s)
    results = []
    for topic in wanted:
        try:
            futures[topic.topic].result(timeout=timeout_s)
            created = True
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise
            created = False
        results.append(TopicResult(topic.topic, topic.num_partitions, created))
    return results


def require_topics(consumer: Consumer, settings: Settings, timeout_s: float = 15.0) -> None:
    """Stop at once, naming them, when the input or an output topic does not exist.

    Subscribed to a missing topic, a consumer is simply never assigned anything: the process
    would wait silently (``--max-idle`` never started counting).
    """
    t = settings.topics
    needed = {"raw": t.raw, "scored": t.scored, "review": t.review, "quarantine": t.quarantine}
    try:
        known = consumer.list_topics(timeout=timeout_s).topics
    except KafkaException as exc:
        # the broker is not reachable yet (a restart): the consumer waits for it, as before
        log.warning("no topic metadata yet, not checking the topics: %s", exc)
        return
    missing = [f"{name} {topic!r}" for name, topic in needed.items() if topic not in known]
    if missing:
        raise ConfigError(
            "topic_missing",
            f"topics {', '.join(missing)} do not exist on {settings.kafka.bootstrap_servers}: create them "
            "(`processor topics create`) or point the settings at the right names (PROCESSOR_TOPICS__RAW ...)",
        )
