"""A producer that knows only the schema registry: simulated sign-ups through ``AvroSerializer``.

What a team's own service would do: confluent_kafka's serializer, RecordNameStrategy, each event
written with the schema version it was generated under (v1 without ``referral_code``, v2 with),
the registry assigning the ids. The processor reads them back by id (``processor demo``).
"""

from __future__ import annotations

import json
import random
from collections import Counter
from dataclasses import dataclass, field

from processor.config import Settings
from processor.devtools.simulate.generators import UserSignupGenerator

_MEAN_GAP_MS = 50


@dataclass
class RegistryProduced:
    topic: str
    subject: str
    by_version: Counter[int] = field(default_factory=Counter)
    schema_ids: dict[int, int] = field(default_factory=dict)  # schema version -> registry id

    def render(self) -> str:
        versions = ", ".join(
            f"v{v}: {n} events (schema id {self.schema_ids[v]})" for v, n in sorted(self.by_version.items())
        )
        return (
            f"  {sum(self.by_version.values())} user_signed_up to {self.topic} via subject {self.subject}: {versions}"
        )


def produce_through_registry(settings: Settings, *, count: int, seed: int, start_ms: int) -> RegistryProduced:
    """``count`` sign-ups from ``start_ms`` on, Confluent-framed; registers v1 and v2 as they are needed."""
    from confluent_kafka import Producer
    from confluent_kafka.schema_registry import record_subject_name_strategy
    from confluent_kafka.schema_registry.avro import AvroSerializer
    from confluent_kafka.serialization import MessageField, SerializationContext

    from processor.serializers.registry import full_name, make_client
    from processor.serializers.schemas import SchemaStore

    client = make_client(settings.schema_registry)
    store = SchemaStore(settings.schemas_dir)
    serializers = {}
    for version in store.versions("user_signed_up"):
        entry = store.get("user_signed_up", version)
        assert entry is not None
        serializers[version] = AvroSerializer(
            client, json.dumps(entry.schema), conf={"subject.name.strategy": record_subject_name_strategy}
        )
    topic = settings.topics.raw
    produced = RegistryProduced(topic, full_name(store.latest("user_signed_up").schema))
    producer = Producer({**settings.kafka.client_config(), "enable.idempotence": True, "acks": "all"})
    generator = UserSignupGenerator(random.Random(seed))
    context = SerializationContext(topic, MessageField.VALUE)
    occurred_at = start_ms
    for _ in range(count):
        event = generator.next(occurred_at)
        occurred_at += _MEAN_GAP_MS
        version = event.schema_version
        value = serializers[version](event.record, context)
        assert value is not None
        produced.schema_ids.setdefault(version, int.from_bytes(value[1:5], "big"))
        produced.by_version[version] += 1
        while True:
            try:
                producer.produce(topic, value, event.entity_id.encode())
                break
            except BufferError:
                producer.poll(0.1)
        producer.poll(0)
    remaining = producer.flush(60)
    if remaining:
        raise RuntimeError(f"{remaining} registry-framed events were not acknowledged within 60 s")
    client.close()
    return produced
