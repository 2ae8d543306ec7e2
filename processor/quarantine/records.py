"""Quarantine records read back from the quarantine topic, and the filters that select them."""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from confluent_kafka import Consumer, Message, TopicPartition

from processor.config import Settings
from processor.errors import ConfigError
from processor.kafka.clients import reader_config
from processor.kafka.records import headers_of
from processor.messages import Headers
from processor.serializers.outputs import decode_json_output, decode_registry_output
from processor.serializers.registry import CONFLUENT_MAGIC

_DURATION = re.compile(r"^(\d+)\s*([smhd])$")
_UNIT_MS = {"s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}


@dataclass(frozen=True, slots=True)
class QuarantinedRecord:
    """One record of the quarantine topic: where it sits there, why, and the original input."""

    topic: str
    partition: int
    offset: int
    stage: str
    error_code: str
    error_message: str
    field: str | None
    event_type: str | None
    event_id: str | None
    key: bytes | None
    value: bytes | None
    headers: Headers
    source_topic: str
    source_partition: int
    source_offset: int
    quarantined_at: int

    @property
    def coordinate(self) -> str:
        """``topic:partition:offset`` in the quarantine topic: names this record (and its replay)."""
        return f"{self.topic}:{self.partition}:{self.offset}"

    @property
    def source_position(self) -> str:
        return f"{self.source_topic}:{self.source_partition}:{self.source_offset}"


@dataclass(frozen=True, slots=True)
class QuarantineFilter:
    """Every criterion that is set must hold; times are epoch ms on ``quarantined_at``, ``until`` exclusive."""

    stage: str | None = None
    error_code: str | None = None
    event_type: str | None = None
    since_ms: int | None = None
    until_ms: int | None = None

    @property
    def is_empty(self) -> bool:
        return all(v is None for v in (self.stage, self.error_code, self.event_type, self.since_ms, self.until_ms))

    def matches(self, record: QuarantinedRecord) -> bool:
        return (
            (self.stage is None or record.stage == self.stage)
            and (self.error_code is None or record.error_code == self.error_code)
            and (self.event_type is None or record.event_type == self.event_type)
            and (self.since_ms is None or record.quarantined_at >= self.since_ms)
            and (self.until_ms is None or record.quarantined_at < self.until_ms)
        )


def parse_time(text: str, now_ms: int | None = None) -> int:
    """An operator's time: epoch ms, an RFC 3339 timestamp, or a duration ago (``30m``, ``2h``, ``7d``)."""
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    text = text.strip()
    if text.isdigit():
        return int(text)
    duration = _DURATION.match(text)
    if duration is not None:
        return now_ms - int(duration[1]) * _UNIT_MS[duration[2]]
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise ConfigError(
            "invalid_time",
            f"{text!r} is not a time: give epoch ms, RFC 3339 with an offset (2026-11-28T10:00:00Z) or a duration ago (30m, 2h, 7d)",
        )
    return int(parsed.timestamp() * 1000)


def parse_coordinate(text: str, default_topic: str) -> tuple[str, int, int]:
    """``topic:partition:offset`` or ``partition:offset`` (in the configured quarantine topic)."""
    parts = text.rsplit(":", 2)
    try:
        if len(parts) == 3:
            return parts[0], int(parts[1]), int(parts[2])
        if len(parts) == 2:
            return default_topic, int(parts[0]), int(parts[1])
    except ValueError:
        pass
    raise ConfigError(
        "invalid_coordinate", f"{text!r} is not a quarantine record: give partition:offset or topic:partition:offset"
    )


def decode_quarantined(message: Message) -> QuarantinedRecord:
    """A quarantine topic message back to its record, in the format it was written with
    (``outputs.format``: JSON, or Confluent-framed Avro)."""
    value = message.value()
    if value is None:
        raise ValueError("quarantine message has no value")
    headers = dict(headers_of(message))
    data: dict[str, Any]
    if value.startswith(CONFLUENT_MAGIC):  # outputs.format avro-registry
        data = decode_registry_output("quarantine", value, headers)
    else:
        data = decode_json_output(value)
    topic, partition, offset = message.topic(), message.partition(), message.offset()
    if topic is None or partition is None or offset is None:
        raise ValueError("message has no topic, partition or offset")
    return QuarantinedRecord(
        topic=topic,
        partition=partition,
        offset=offset,
        stage=str(data["stage"]),
        error_code=str(data["error_code"]),
        error_message=str(data.get("error_message") or ""),
        field=data.get("field"),
        event_type=data.get("event_type"),
        event_id=data.get("event_id"),
        key=data.get("key"),
        value=data.get("value"),
        headers=tuple((h["key"], h["value"]) for h in data.get("headers") or ()),
        source_topic=str(data["source_topic"]),
        source_partition=int(data["source_partition"]),
        source_offset=int(data["source_offset"]),
        quarantined_at=int(data["quarantined_at"]),
    )


#: Kafka timestamps of quarantine records are set when they are produced, just after
#: ``quarantined_at``; seeking this much earlier than ``--since`` misses none.
_SEEK_SLACK_MS = 60_000


def _read_since(settings: Settings, topic: str, since_ms: int | None) -> list[Message]:
    """Committed records of a topic up to its current end, from ``since_ms`` (by timestamp) or the start."""
    consumer = Consumer(reader_config(settings, "quarantine-cli"))
    try:
        metadata = consumer.list_topics(topic, timeout=30)
        if topic not in metadata.topics or metadata.topics[topic].error is not None:
            raise ConfigError("unknown_topic", f"quarantine topic {topic} does not exist")
        partitions = sorted(metadata.topics[topic].partitions)
        ends = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=30)[1] for p in partitions}
        starts = [TopicPartition(topic, p, 0) for p in partitions]
        if since_ms is not None:
            wanted = [TopicPartition(topic, p, max(0, since_ms - _SEEK_SLACK_MS)) for p in partitions]
            found = consumer.offsets_for_times(wanted, timeout=30)
            # -1: no record that recent in this partition, nothing to read there
            starts = [
                TopicPartition(topic, tp.partition, tp.offset if tp.offset >= 0 else ends[tp.partition]) for tp in found
            ]
        pending = {tp.partition for tp in starts if tp.offset < ends[tp.partition]}
        out: list[Message] = []
        if not pending:
            return out
        consumer.assign([tp for tp in starts if tp.partition in pending])
        deadline = time.monotonic() + 120
        last_data = time.monotonic()
        while pending and time.monotonic() < deadline and time.monotonic() - last_data < 5.0:
            for message in consumer.consume(2_000, 0.5):
                if message.error() is None:
                    out.append(message)
                    last_data = time.monotonic()
            positions = consumer.position([TopicPartition(topic, p) for p in pending])
            # past the end: aborted transactions and control records leave gaps at the tail
            pending -= {tp.partition for tp in positions if tp.offset >= ends[tp.partition]}
        return out
    finally:
        consumer.close()


def read_one(settings: Settings, partition: int, offset: int) -> QuarantinedRecord | None:
    """The committed quarantine record at one position, or None when there is none."""
    topic = settings.topics.quarantine
    consumer = Consumer(reader_config(settings, "quarantine-cli"))
    try:
        low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=30)
        if not low <= offset < high:
            return None
        consumer.assign([TopicPartition(topic, partition, offset)])
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is None or message.error() is not None:
                continue
            if message.offset() != offset:  # a gap (aborted or control record) where the offset was
                return None
            return decode_quarantined(message)
        return None
    finally:
        consumer.close()


def read_quarantine(
    settings: Settings, selection: QuarantineFilter, messages: Iterable[Message] | None = None
) -> tuple[list[QuarantinedRecord], int]:
    """The committed quarantine records that match, in topic order; and how many could not be read."""
    source = messages if messages is not None else _read_since(settings, settings.topics.quarantine, selection.since_ms)
    out: list[QuarantinedRecord] = []
    unreadable = 0
    for message in source:
        try:
            record = decode_quarantined(message)
        except (ValueError, KeyError, TypeError, EOFError):
            unreadable += 1  # reported by the caller: one unreadable record must not hide the rest
            continue
        if selection.matches(record):
            out.append(record)
    out.sort(key=lambda r: (r.partition, r.offset))
    return out, unreadable
