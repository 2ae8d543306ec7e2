"""Helpers for integration tests: produce to the real broker, run processor subprocesses, wait."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

from confluent_kafka import Producer

from processor.audit import read_topic
from processor.config import Settings


def produce(settings: Settings, messages: list[tuple[bytes | None, bytes | None]]) -> list[tuple[int, int]]:
    """Produce (key, value) pairs to the raw topic, in order, and wait; returns (partition, offset) of each."""
    producer = Producer(
        {
            "bootstrap.servers": settings.kafka.bootstrap_servers,
            "enable.idempotence": True,
            "linger.ms": 10,
            "message.max.bytes": 4 * 1024 * 1024,  # oversized inputs must reach the processor
        }
    )
    positions: list[tuple[int, int] | None] = [None] * len(messages)
    errors: list[Any] = []

    def on_delivery(index: int) -> Callable[[Any, Any], None]:
        def record(err: Any, msg: Any) -> None:
            if err is not None:
                errors.append(err)
            else:
                positions[index] = (msg.partition(), msg.offset())

        return record

    for index, (key, value) in enumerate(messages):
        while True:
            try:
                producer.produce(settings.topics.raw, value, key, on_delivery=on_delivery(index))
                break
            except BufferError:
                producer.poll(0.1)
        producer.poll(0)
    assert producer.flush(60) == 0
    assert not errors, errors[:3]
    assert all(p is not None for p in positions)
    return [p for p in positions if p is not None]


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment that makes a `processor` subprocess use these settings."""
    env = dict(os.environ)
    env.update(
        {
            "PROCESSOR_KAFKA__BOOTSTRAP_SERVERS": settings.kafka.bootstrap_servers,
            "PROCESSOR_KAFKA__GROUP_ID": settings.kafka.group_id,
            "PROCESSOR_KAFKA__TRANSACTIONAL_ID": settings.kafka.effective_transactional_id(),
            "PROCESSOR_KAFKA__SESSION_TIMEOUT_MS": str(settings.kafka.session_timeout_ms),
            "PROCESSOR_KAFKA__TRANSACTION_TIMEOUT_MS": str(settings.kafka.transaction_timeout_ms),
            "PROCESSOR_REDIS__URL": settings.redis.url,
            "PROCESSOR_REDIS__KEY_PREFIX": settings.redis.key_prefix,
            "PROCESSOR_TOPICS__RAW": settings.topics.raw,
            "PROCESSOR_TOPICS__SCORED": settings.topics.scored,
            "PROCESSOR_TOPICS__REVIEW": settings.topics.review,
            "PROCESSOR_TOPICS__QUARANTINE": settings.topics.quarantine,
            "PROCESSOR_TOPICS__FEEDBACK": settings.topics.feedback,
            "PROCESSOR_SCHEMAS_DIR": str(settings.schemas_dir),
            "PROCESSOR_PIPELINES_FILE": str(settings.pipelines_file),
            "PROCESSOR_MODELS__DIR": str(settings.models.dir),
            "PROCESSOR_MODELS__RELOAD_INTERVAL_S": str(settings.models.reload_interval_s),
            "PROCESSOR_METRICS__ENABLED": "false",
            "PROCESSOR_PROCESSING__BATCH_TIMEOUT_MS": str(settings.processing.batch_timeout_ms),
            "PROCESSOR_PROCESSING__IDLE_TIMEOUT_MS": str(settings.processing.idle_timeout_ms),
            "PROCESSOR_PROCESSING__ALLOWED_LATENESS_MS": str(settings.processing.allowed_lateness_ms),
            "PROCESSOR_PROCESSING__BATCH_SIZE": str(settings.processing.batch_size),
        }
    )
    return env


def wait_for(predicate: Callable[[], bool], timeout_s: float, interval_s: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval_s)
    return predicate()


def count_outputs(settings: Settings) -> int:
    """Committed records on the three output topics (read_committed)."""
    t = settings.topics
    return sum(len(read_topic(settings, topic, idle_s=0.3)) for topic in (t.scored, t.review, t.quarantine))
