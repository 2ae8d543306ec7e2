"""Check the accounting identity (docs/design.md §2) from the topics alone.

Every input record must have exactly one output (on the scored, review or quarantine topic,
found through the outputs' lineage headers) or be a dropped duplicate: an input whose event_id
has an output from another input. Outputs are read with ``isolation.level=read_committed``, as
downstream consumers read them. Also checked: no event_id is decided twice, quarantine records
carry the original bytes exactly, and per-entity event-time order holds on each output topic
for events not flagged late.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import Consumer, Message, TopicPartition

from processor.config import Settings, load_pipelines
from processor.kafka.clients import reader_config
from processor.kafka.records import headers_of, to_raw
from processor.serializers.outputs import decode_json_output
from processor.serializers.registry import CONFLUENT_MAGIC, FramedReader, WriterSchemas, make_client
from processor.serializers.schemas import SchemaStore
from processor.stages.decode import Decoder

Position = tuple[int, int]  # (partition, offset) in the input topic


@dataclass(slots=True)
class AuditReport:
    inputs: int = 0
    scored: int = 0
    review: int = 0
    quarantined: int = 0
    duplicates_dropped: int = 0
    late_flagged: int = 0
    lost: list[Position] = field(default_factory=list)
    answered_twice: list[Position] = field(default_factory=list)
    decided_twice: list[str] = field(default_factory=list)
    orphans: int = 0
    quarantine_bytes_mismatch: list[Position] = field(default_factory=list)
    order_violations: list[str] = field(default_factory=list)
    quarantine_by_reason: dict[tuple[str, str], int] = field(default_factory=dict)
    #: Human decisions on the scored topic (decision_source=human): answers to review items, not to
    #: inputs, so outside the identity; each must answer a review item, at most once.
    human_decided: int = 0
    human_decided_twice: list[str] = field(default_factory=list)
    human_without_review: list[str] = field(default_factory=list)

    @property
    def identity_holds(self) -> bool:
        return (
            not self.lost
            and not self.answered_twice
            and not self.decided_twice
            and not self.orphans
            and not self.quarantine_bytes_mismatch
            and not self.human_decided_twice
            and not self.human_without_review
            and self.inputs == self.scored + self.review + self.quarantined + self.duplicates_dropped
        )

    @property
    def order_holds(self) -> bool:
        return not self.order_violations

    def problems(self) -> list[str]:
        out = []
        if self.lost:
            out.append(f"{len(self.lost)} inputs lost, e.g. {self.lost[:5]}")
        if self.answered_twice:
            out.append(f"{len(self.answered_twice)} inputs answered twice, e.g. {self.answered_twice[:5]}")
        if self.decided_twice:
            out.append(f"{len(self.decided_twice)} event_ids decided twice, e.g. {self.decided_twice[:5]}")
        if self.orphans:
            out.append(f"{self.orphans} outputs name no input record")
        if self.quarantine_bytes_mismatch:
            out.append(f"{len(self.quarantine_bytes_mismatch)} quarantine records differ from the original bytes")
        if self.human_decided_twice:
            out.append(
                f"{len(self.human_decided_twice)} event_ids decided twice by humans, e.g. {self.human_decided_twice[:5]}"
            )
        if self.human_without_review:
            out.append(
                f"{len(self.human_without_review)} human decisions answer no review item, e.g. {self.human_without_review[:5]}"
            )
        if self.order_violations:
            out.append(f"{len(self.order_violations)} per-entity order violations, e.g. {self.order_violations[:3]}")
        return out


def read_topic(settings: Settings, topic: str, idle_s: float = 3.0, timeout_s: float = 120.0) -> list[Message]:
    """Every committed record of a topic, from the beginning to its current end."""
    consumer = Consumer(reader_config(settings, "audit"))
    try:
        metadata = consumer.list_topics(topic, timeout=30)
        partitions = sorted(metadata.topics[topic].partitions)
        ends = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=30)[1] for p in partitions}
        consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
        out: list[Message] = []
        started = time.monotonic()
        deadline = started + timeout_s
        last_data = started
        while time.monotonic() < deadline:
            batch = consumer.consume(2000, 0.5)
            data = [m for m in batch if m.error() is None]
            out.extend(data)
            if data:
                last_data = time.monotonic()
            positions = consumer.position([TopicPartition(topic, p) for p in partitions])
            if all(tp.offset >= ends[tp.partition] for tp in positions if ends[tp.partition] > 0):
                break
            # idle means "fetched, and nothing more came" (a transaction marker can sit at the end):
            # a slow first fetch on a busy machine is not idleness
            fetched = all(tp.offset >= 0 for tp in positions if ends[tp.partition] > 0)
            if not data and time.monotonic() - last_data > idle_s and (fetched or time.monotonic() - started > 10):
                break
        return out
    finally:
        consumer.close()


def _lineage(message: Message) -> Position | None:
    headers = dict(headers_of(message))
    try:
        return int(headers["source-partition"] or b""), int(headers["source-offset"] or b"")
    except (KeyError, ValueError):
        return None


def audit(settings: Settings) -> AuditReport:
    topics = settings.topics
    schemas = SchemaStore(settings.schemas_dir)
    client = make_client(settings.schema_registry) if settings.schema_registry.url is not None else None
    writers = WriterSchemas(client, schemas) if client is not None else None
    decoder = Decoder(schemas, load_pipelines(settings.pipelines_file), settings.processing, writers)
    framed = FramedReader(client) if client is not None else None

    def read_output(value: bytes) -> dict[str, Any]:
        # the processor's outputs are JSON, or Confluent-framed Avro (outputs.format avro-registry)
        if framed is not None and value.startswith(CONFLUENT_MAGIC):
            return framed.read(value)
        return decode_json_output(value)

    report = AuditReport()

    event_ids: dict[Position, str | None] = {}
    originals: dict[Position, tuple[bytes | None, bytes | None]] = {}
    for m in read_topic(settings, topics.raw):
        raw = to_raw(m)
        pos = (raw.partition, raw.offset)
        decoded, _ = decoder.decode_batch([raw])  # a rejected input has no event id to count
        event_ids[pos] = decoded[0].event_id if decoded else None
        originals[pos] = (raw.key, raw.value)
    report.inputs = len(event_ids)

    answers: dict[Position, int] = defaultdict(int)
    decided: dict[str, int] = defaultdict(int)
    human: dict[str, int] = defaultdict(int)
    reviewed: set[str] = set()
    for topic, kind in ((topics.scored, "scored"), (topics.review, "review"), (topics.quarantine, "quarantine")):
        last_by_entity: dict[tuple[str, str], int] = {}
        for m in read_topic(settings, topic):
            if kind == "scored" and dict(headers_of(m)).get("decision-source") == b"human":
                human[read_output(m.value() or b"{}").get("event_id", "")] += 1
                continue
            source = _lineage(m)
            if source is None or source not in event_ids:
                report.orphans += 1
                continue
            answers[source] += 1
            value = m.value()
            record: dict[str, Any] = read_output(value) if value is not None else {}
            if kind == "quarantine":
                report.quarantined += 1
                reason = (str(record.get("stage")), str(record.get("error_code")))
                report.quarantine_by_reason[reason] = report.quarantine_by_reason.get(reason, 0) + 1
                if (record.get("key"), record.get("value")) != originals[source]:
                    report.quarantine_bytes_mismatch.append(source)
                continue
            if kind == "scored":
                report.scored += 1
            else:
                report.review += 1
                reviewed.add(record["event_id"])
            decided[record["event_id"]] += 1
            if record.get("late"):
                report.late_flagged += 1
                continue
            entity = (record["event_type"], record["entity_id"])
            occurred_at = int(record["occurred_at"])
            previous = last_by_entity.get(entity)
            if previous is not None and occurred_at < previous:
                report.order_violations.append(f"{kind}:{entity[0]}:{entity[1]}")
            last_by_entity[entity] = occurred_at

    answered_ids = {event_ids[pos] for pos, n in answers.items() if n and event_ids.get(pos)}
    for pos, event_id in event_ids.items():
        n = answers.get(pos, 0)
        if n > 1:
            report.answered_twice.append(pos)
        elif n == 0:
            if event_id is not None and event_id in answered_ids:
                report.duplicates_dropped += 1
            else:
                report.lost.append(pos)
    report.decided_twice = [e for e, n in decided.items() if n > 1]
    report.human_decided = sum(human.values())
    report.human_decided_twice = [e for e, n in human.items() if n > 1]
    report.human_without_review = [e for e in human if e not in reviewed]
    return report
