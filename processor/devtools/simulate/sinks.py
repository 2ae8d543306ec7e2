"""Where a simulated stream goes: a Kafka topic, or JSONL files, plus a ground-truth manifest.

Kafka gets every message byte for byte, through an idempotent producer so a retried send never
adds a duplicate the simulation did not plan (the planned duplicates are separate sends). The
JSONL sink is for training and offline tests: a JSONL line must be JSON, so it holds the valid
events and the faults that are still JSON (Avro events written as their records); undecodable
bytes, null values and non-JSON text have no line. Labels go to a separate file, as ground truth
a training job joins by ``event_id``. The manifest lists every message with its expected outcome.
"""

from __future__ import annotations

import base64
import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from processor.devtools.simulate.stream import SimulatedMessage

#: The raw topic accepts values up to 4 MiB (``processor topics create``) so ``oversized`` faults
#: reach the processor; the producer must allow a little more than that per request.
PRODUCER_MAX_MESSAGE_BYTES = 4 * 1024 * 1024 + 65_536
_MAX_ERRORS_KEPT = 20


def sibling_path(path: Path, suffix: str) -> Path:
    """``events.jsonl`` -> ``events.<suffix>.jsonl`` (any other name: ``name.<suffix>.jsonl``)."""
    name = path.name
    stem = name[: -len(".jsonl")] if name.endswith(".jsonl") else name
    return path.with_name(f"{stem}.{suffix}.jsonl")


def labels_path_for(path: Path) -> Path:
    return sibling_path(path, "labels")


def manifest_path_for(path: Path) -> Path:
    return sibling_path(path, "manifest")


# -- files ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FileReport:
    events_path: Path
    labels_path: Path
    events_written: int
    skipped_not_json: int
    labels_written: int


def write_jsonl(path: Path, messages: Iterable[SimulatedMessage]) -> FileReport:
    """Events to ``path`` (one JSON value per line) and labels to ``<stem>.labels.jsonl``.

    A label line ``{"event_id", "event_type", "label"}`` is written for each valid event that
    has a label (unresolved Jira tickets have none). Files are replaced atomically.
    """
    labels_path = labels_path_for(path)
    written = skipped = labelled = 0
    with _atomic(path) as events, _atomic(labels_path) as labels:
        for message in messages:
            if message.as_json is None:
                skipped += 1
                continue
            events.write(message.as_json)
            events.write(b"\n")
            written += 1
            if message.is_valid and message.label is not None:
                labels.write(
                    orjson.dumps(
                        {"event_id": message.event_id, "event_type": message.event_type, "label": message.label}
                    )
                )
                labels.write(b"\n")
                labelled += 1
    return FileReport(path, labels_path, written, skipped, labelled)


def manifest_row(index: int, message: SimulatedMessage, *, include_value: bool = False) -> dict[str, Any]:
    row: dict[str, Any] = {
        "index": index,
        "event_id": message.event_id,
        "event_type": message.event_type,
        "entity_id": message.entity_id,
        "occurred_at": message.occurred_at,
        "fault": message.fault,
        "variant": message.variant,
        "encoding": message.encoding,
        "expected": message.expected,
        "expected_stage": message.expected_stage,
        "expected_code": message.expected_code,
        "label": message.label,
        "key": message.key.decode("utf-8", errors="replace") if message.key is not None else None,
        "value_bytes": len(message.value) if message.value is not None else None,
    }
    if include_value:
        row["value_b64"] = base64.b64encode(message.value).decode("ascii") if message.value is not None else None
    return row


def write_manifest(
    path: Path,
    messages: Sequence[SimulatedMessage],
    *,
    include_values: bool = False,
    positions: Sequence[tuple[int, int] | None] | None = None,
) -> int:
    """Per-message ground truth as JSONL, in production order; returns the number of rows.

    ``positions`` (from ``produce_to_kafka``) adds each message's partition and offset, so the
    truth can be joined to quarantine records, which name their source offset.
    """
    with _atomic(path) as out:
        for index, message in enumerate(messages):
            row = manifest_row(index, message, include_value=include_values)
            if positions is not None:
                where = positions[index]
                row["partition"], row["offset"] = where if where is not None else (None, None)
            out.write(orjson.dumps(row))
            out.write(b"\n")
    return len(messages)


class _atomic:
    """Write to ``<path>.tmp`` and rename over ``path`` on success: readers never see half a file."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._tmp = path.with_name(path.name + ".tmp")
        self._handle: Any = None

    def __enter__(self) -> Any:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        self._handle = open(self._tmp, "wb", buffering=1 << 20)  # closed in __exit__
        return self._handle

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self._handle.close()
        if exc_type is None:
            os.replace(self._tmp, self._path)
        else:
            self._tmp.unlink(missing_ok=True)


# -- Kafka ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    """What the broker acknowledged. ``positions[i]`` is message i's (partition, offset), or None."""

    topic: str
    produced: int
    delivered: int
    failed: int
    errors: tuple[str, ...]
    positions: tuple[tuple[int, int] | None, ...]
    elapsed_s: float

    @property
    def ok(self) -> bool:
        return self.failed == 0 and self.delivered == self.produced


def producer_config(client_config: dict[str, Any]) -> dict[str, Any]:
    """The client settings plus what the simulator needs: idempotence, batching, large values."""
    return {
        **client_config,
        "enable.idempotence": True,
        "linger.ms": 20,
        "message.max.bytes": PRODUCER_MAX_MESSAGE_BYTES,
    }


def produce_to_kafka(
    messages: Sequence[SimulatedMessage],
    *,
    topic: str,
    client_config: dict[str, Any],
    producer_factory: Callable[[dict[str, Any]], Any] | None = None,
    flush_timeout_s: float = 120.0,
) -> DeliveryReport:
    """Produce every message in order, then wait for the acknowledgements.

    A full local queue (``BufferError``) is waited out by polling, never by dropping. Errors
    are collected per message, not raised: the caller gets a report of what reached the broker.
    """
    from confluent_kafka import KafkaException, Producer

    factory = producer_factory or Producer
    producer = factory(producer_config(client_config))
    positions: list[tuple[int, int] | None] = [None] * len(messages)
    errors: list[str] = []

    def on_delivery(index: int) -> Callable[[Any, Any], None]:
        def callback(err: Any, msg: Any) -> None:
            if err is not None:
                if len(errors) < _MAX_ERRORS_KEPT:
                    errors.append(f"message {index}: {err}")
            else:
                positions[index] = (msg.partition(), msg.offset())

        return callback

    started = time.monotonic()
    for index, message in enumerate(messages):
        while True:
            try:
                producer.produce(
                    topic,
                    value=message.value,
                    key=message.key,
                    headers=list(message.headers) or None,
                    on_delivery=on_delivery(index),
                )
                break
            except BufferError:
                producer.poll(0.05)  # the local queue is full: let deliveries drain it
            except KafkaException as exc:  # e.g. a value over message.max.bytes, refused locally
                if len(errors) < _MAX_ERRORS_KEPT:
                    errors.append(f"message {index}: {exc}")
                break
        producer.poll(0)
    remaining = producer.flush(flush_timeout_s)
    if remaining:
        errors.append(f"{remaining} messages still undelivered after {flush_timeout_s:g} s")
    delivered = sum(1 for p in positions if p is not None)
    return DeliveryReport(
        topic=topic,
        produced=len(messages),
        delivered=delivered,
        failed=len(messages) - delivered,
        errors=tuple(errors),
        positions=tuple(positions),
        elapsed_s=time.monotonic() - started,
    )
