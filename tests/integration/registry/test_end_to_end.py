"""Producers and consumers that only know the schema registry, through a real processor.

A producer serializes with confluent_kafka's own ``AvroSerializer`` under two versions of
user_signed_up; the processor writes ``avro-registry`` outputs; a consumer reads them with
``AvroDeserializer``. Mid-run the registry is stopped while the processor meets a schema id it has
not cached yet, then started again: nothing lost, nothing quarantined, the identity holds.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext

from helpers.kafka import count_outputs, produce, wait_for
from helpers.net import free_port
from helpers.records import run_signup
from helpers.registry import PrivateRegistry, avro_serializer, serialize
from processor.audit import audit
from processor.config import Settings


def _read_avro(settings: Settings, topic: str, client: SchemaRegistryClient) -> list[dict[str, Any]]:
    """Everything on ``topic``, as a downstream consumer that knows only the registry reads it."""
    deserializer = AvroDeserializer(client)
    consumer = Consumer(
        {
            "bootstrap.servers": settings.kafka.bootstrap_servers,
            "group.id": f"reader-{uuid.uuid4().hex[:8]}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "isolation.level": "read_committed",
        }
    )
    consumer.subscribe([topic])
    out: list[dict[str, Any]] = []
    quiet_since = time.monotonic()
    try:
        while time.monotonic() - quiet_since < 1.5:
            m = consumer.poll(0.5)
            if m is None or m.error() is not None:
                continue
            quiet_since = time.monotonic()
            out.append(deserializer(m.value(), SerializationContext(topic, MessageField.VALUE)))
    finally:
        consumer.close()
    return out


def test_avro_serializer_in_avro_deserializer_out_across_a_registry_restart(
    topic_factory: Callable[..., Settings],
    processor_factory: Callable[..., Any],
    trained_models: Path,
    tmp_path: Path,
) -> None:
    registry = PrivateRegistry(free_port(), tmp_path / "registry-data", tmp_path / "registry.log")
    registry.start()
    try:
        client = SchemaRegistryClient({"url": registry.url})
        settings = topic_factory(
            models_dir=trained_models,
            schema_registry={"url": registry.url, "subject_strategy": "topic", "max_backoff_s": 2},
            outputs={"format": "avro-registry"},
        )
        run = uuid.uuid4().hex[:6]
        now = int(time.time() * 1000)
        v1_records = [run_signup(run, i, now + i) for i in range(30)]
        v2_records = [run_signup(run, i, now + i) for i in range(30, 60)]
        for r in v1_records:
            del r["referral_code"]
            r["schema_version"] = None
        for r in v2_records:
            r["referral_code"] = "friend"
        # serialized up front: the producer's serializer registers both versions now
        topic = settings.topics.raw
        v1 = [serialize(avro_serializer(client, "user_signed_up.v1.avsc"), topic, r) for r in v1_records]
        v2 = [serialize(avro_serializer(client, "user_signed_up.v2.avsc"), topic, r) for r in v2_records]

        log = tmp_path / "processor.log"
        proc = processor_factory(settings, "--max-idle", "6", log=log)
        produce(settings, [(r["entity_id"].encode(), v) for r, v in zip(v1_records, v1, strict=True)])
        assert wait_for(lambda: count_outputs(settings) == len(v1), 90), log.read_text()[-3000:]

        registry.stop()  # the processor has v1's id cached, not v2's
        produce(settings, [(r["entity_id"].encode(), v) for r, v in zip(v2_records, v2, strict=True)])
        # the processor meets v2's id, cannot ask, and waits: no output, no exit, no quarantine
        assert wait_for(lambda: "schema registry unavailable" in log.read_text(), 60), log.read_text()[-3000:]
        time.sleep(1)
        assert proc.poll() is None, log.read_text()[-3000:]
        assert count_outputs(settings) == len(v1)
        registry.start()
        assert proc.wait(120) == 0, log.read_text()[-3000:]
        assert "schema registry is back" in log.read_text()

        report = audit(settings)
        assert report.identity_holds, report.problems()
        assert report.inputs == 60
        assert report.quarantined == 0, report.quarantine_by_reason
        assert report.scored + report.review == 60

        decided = _read_avro(settings, settings.topics.scored, client) + _read_avro(
            settings, settings.topics.review, client
        )
        assert sorted(r["event_id"] for r in decided) == sorted(r["event_id"] for r in v1_records + v2_records)
        assert {r["event_type"] for r in decided} == {"user_signed_up"}
        assert all(r["decision"] for r in decided)
        subjects = client.get_subjects()
        assert f"{settings.topics.scored}-value" in subjects and f"{topic}-value" in subjects
    finally:
        registry.stop()
