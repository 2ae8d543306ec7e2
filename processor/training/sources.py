"""Where training reads history and labels from: JSONL or Avro files, a Kafka topic, the feedback topic.

Every event source yields the raw bytes of each event, exactly as the processor would consume
them (a JSON object, or Avro single-object encoding), so training decodes and validates them with
the serving ``Decoder`` and ``Validator``. Each source also hashes what it read, in order, so the
artifact names the exact data it came from.

- ``JsonlFile``: one JSON event per line (``processor simulate --out`` writes these).
- ``AvroFile``: an Avro object container file whose writer schema is one of ``schemas/input``
  (matched by fingerprint); each record is re-framed as single-object encoding, as a producer
  would send it.
- ``KafkaTopic``: every committed record of a topic (``read_committed``), from the beginning up
  to the end offsets seen when training started; nothing is committed (a throwaway group).

Labels: a JSONL file of ``{event_id, label}``, or the ``events.feedback`` topic (human review
decisions, ``processor/schemas/output/feedback.avsc``, JSON or Avro): the latest ``decided_at`` per
``event_id`` wins, so a reviewer's correction replaces the first decision.
"""

from __future__ import annotations

import hashlib
import io
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO, Protocol

import fastavro
import orjson
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, TopicPartition

from processor.config import Settings
from processor.errors import ConfigError
from processor.kafka.clients import reader_config
from processor.serializers.avro import SINGLE_OBJECT_MAGIC
from processor.serializers.schemas import SchemaStore, fingerprint

#: A topic read ends this long after the last record arrived, even if an end offset was not reached
#: (transaction markers occupy offsets that are never delivered).
_TOPIC_IDLE_S = 3.0


class EventSource(Protocol):
    name: str

    def messages(self) -> Iterator[tuple[int, bytes]]:
        """``(position, value)`` per event, in source order."""
        ...

    def sha256(self) -> str:
        """Hash of everything read so far (call after ``messages`` is exhausted)."""
        ...


def _open_events(path: Path) -> BinaryIO:
    try:
        return path.open("rb")
    except OSError as exc:
        raise ConfigError("events_file_unreadable", f"cannot read events file {path}: {exc}") from exc


@dataclass
class JsonlFile:
    path: Path
    name: str = ""
    _hasher: Any = field(default_factory=hashlib.sha256)

    def __post_init__(self) -> None:
        self.name = self.name or f"jsonl:{self.path}"

    def messages(self) -> Iterator[tuple[int, bytes]]:
        handle = _open_events(self.path)
        with handle:
            for number, line in enumerate(handle, start=1):
                self._hasher.update(line)
                yield number, line.rstrip(b"\r\n")

    def sha256(self) -> str:
        return str(self._hasher.hexdigest())


@dataclass
class AvroFile:
    path: Path
    schemas: SchemaStore
    name: str = ""
    _hasher: Any = field(default_factory=hashlib.sha256)

    def __post_init__(self) -> None:
        self.name = self.name or f"avro:{self.path}"

    def messages(self) -> Iterator[tuple[int, bytes]]:
        handle = _open_events(self.path)
        with handle:
            try:
                reader = fastavro.reader(handle)
                writer_schema = json.loads(reader.metadata["avro.schema"])
            except (ValueError, KeyError, TypeError) as exc:
                raise ConfigError("events_file_invalid", f"{self.path} is not an Avro container file: {exc}") from exc
            fp = fingerprint(writer_schema)
            known = self.schemas.by_fingerprint(fp)
            if known is None:
                raise ConfigError(
                    "unknown_writer_schema",
                    f"{self.path}: its writer schema ({writer_schema.get('name')}, fingerprint {fp.hex()}) is none "
                    f"of the input schemas in {self.schemas.root / 'input'}",
                )
            # fastavro hands logical types out as datetimes; the schema with them writes them back
            parsed = fastavro.parse_schema(writer_schema)
            for number, record in enumerate(reader, start=1):
                buf = io.BytesIO()
                buf.write(SINGLE_OBJECT_MAGIC)
                buf.write(fp)
                fastavro.schemaless_writer(buf, parsed, record)
                value = buf.getvalue()
                self._hasher.update(value)
                yield number, value

    def sha256(self) -> str:
        return str(self._hasher.hexdigest())


@dataclass
class KafkaTopic:
    settings: Settings
    topic: str
    name: str = ""
    timeout_s: float = 600.0
    _hasher: Any = field(default_factory=hashlib.sha256)

    def __post_init__(self) -> None:
        self.name = self.name or f"kafka:{self.topic}"

    def messages(self) -> Iterator[tuple[int, bytes]]:
        for position, (_, _, value) in enumerate(read_topic(self.settings, self.topic, self.timeout_s), start=1):
            self._hasher.update(value)
            yield position, value

    def sha256(self) -> str:
        return str(self._hasher.hexdigest())


def read_topic(settings: Settings, topic: str, timeout_s: float = 600.0) -> Iterator[tuple[int, int, bytes]]:
    """``(partition, offset, value)`` of every committed record up to the end offsets seen at the start."""
    consumer = Consumer(reader_config(settings, "processor-train"))
    try:
        try:
            meta = consumer.list_topics(topic, timeout=10)
        except KafkaException as exc:
            raise ConfigError("topic_unreadable", f"cannot read topic {topic}: {exc}") from exc
        info = meta.topics.get(topic)
        if info is None or info.error is not None or not info.partitions:
            raise ConfigError("unknown_topic", f"topic {topic} does not exist on {settings.kafka.bootstrap_servers}")
        ends: dict[int, int] = {}
        for partition in info.partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)
            if high > low:
                ends[partition] = high
        if not ends:
            return
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in ends])
        deadline = time.monotonic() + timeout_s
        last_progress = time.monotonic()
        while ends:
            if time.monotonic() > deadline:
                raise ConfigError("topic_read_timeout", f"reading {topic} took longer than {timeout_s:.0f} s")
            messages = consumer.consume(1000, 0.5)
            for m in messages:
                if m.error() is not None:
                    continue
                partition, offset = m.partition(), m.offset()
                if partition is None or offset is None or partition not in ends or offset >= ends[partition]:
                    continue
                last_progress = time.monotonic()
                value = m.value()
                if value is not None:
                    yield partition, offset, value
                if offset + 1 >= ends[partition]:
                    del ends[partition]
            if not messages:
                done = [
                    tp.partition
                    for tp in consumer.position([TopicPartition(topic, p) for p in ends])
                    if tp.offset >= ends[tp.partition]
                ]
                for p in done:
                    del ends[p]
                if ends and time.monotonic() - last_progress > _TOPIC_IDLE_S:
                    break  # the remaining offsets are transaction markers or aborted records
    finally:
        consumer.close()


@dataclass(frozen=True, slots=True)
class FeedbackLabels:
    labels: dict[str, str]
    records: int
    invalid: int
    other_type: int


def read_feedback_labels(
    settings: Settings, schemas: SchemaStore, event_type: str, topic: str | None = None
) -> FeedbackLabels:
    """Human labels of ``event_type`` from the feedback topic; the latest ``decided_at`` per event wins."""
    topic = topic or settings.topics.feedback
    best: dict[str, tuple[int, str]] = {}
    records = invalid = other = 0
    schema = schemas.outputs["feedback"]
    for _, _, value in read_topic(settings, topic):
        records += 1
        item = _feedback_record(value, schema)
        if item is None:
            invalid += 1
            continue
        if item["event_type"] != event_type:
            other += 1
            continue
        decided = item["decided_at"]
        current = best.get(item["event_id"])
        # ties (same decided_at) go to the later record on the topic: offsets grow per partition
        if current is None or decided >= current[0]:
            best[item["event_id"]] = (decided, item["label"])
    return FeedbackLabels({k: v for k, (_, v) in best.items()}, records, invalid, other)


def _feedback_record(value: bytes, schema: Any) -> dict[str, Any] | None:
    item: Any
    try:
        item = orjson.loads(value)
    except orjson.JSONDecodeError:
        try:
            item = fastavro.schemaless_reader(io.BytesIO(value), schema)
        except Exception:  # not JSON and not the feedback Avro schema: counted as invalid
            return None
    if not isinstance(item, dict):
        return None
    event_id, label, kind = item.get("event_id"), item.get("label"), item.get("event_type")
    decided: Any = item.get("decided_at")
    if isinstance(decided, datetime):  # Avro timestamp-millis comes back as a datetime
        decided = int(decided.timestamp() * 1000)
    if not all(isinstance(v, str) and v for v in (event_id, label, kind)) or not isinstance(decided, int):
        return None
    return {"event_id": event_id, "event_type": kind, "label": label, "decided_at": decided}


def read_label_file(path: Path) -> tuple[dict[str, str], int]:
    """``event_id -> label`` from a JSONL file; a later line for the same id wins (a correction)."""
    labels: dict[str, str] = {}
    invalid = 0
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise ConfigError("labels_file_unreadable", f"cannot read labels file {path}: {exc}") from exc
    with handle:
        for line in handle:
            if not line.strip():
                continue
            try:
                item = orjson.loads(line)
            except orjson.JSONDecodeError:
                invalid += 1
                continue
            if not isinstance(item, dict):
                invalid += 1
                continue
            event_id, label = item.get("event_id"), item.get("label")
            if not isinstance(event_id, str) or not isinstance(label, str) or not event_id or not label:
                invalid += 1
                continue
            labels[event_id] = label
    return labels, invalid
