"""The sinks: JSONL + labels, the ground-truth manifest, and Kafka (with a stand-in producer)."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import orjson
import pytest

from processor.devtools.simulate import (
    FaultMix,
    SimulatedMessage,
    produce_to_kafka,
    simulate,
    write_jsonl,
    write_manifest,
)
from processor.devtools.simulate.sinks import PRODUCER_MAX_MESSAGE_BYTES, labels_path_for, manifest_path_for
from processor.serializers.schemas import SchemaStore

START = 1_790_000_000_000


@pytest.fixture(scope="module")
def messages(store: SchemaStore) -> list[SimulatedMessage]:
    mix = FaultMix.parse("default,oversized=0,avro_share=0.3")
    return simulate(3_000, seed=5, faults=mix, schemas=store, start_ms=START)


def read_jsonl(path: Path) -> list[Any]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def test_sibling_paths_match_what_training_looks_for():
    path = Path("/data/user_signed_up.history.jsonl")
    assert labels_path_for(path) == Path("/data/user_signed_up.history.labels.jsonl")
    assert manifest_path_for(path) == Path("/data/user_signed_up.history.manifest.jsonl")
    assert labels_path_for(Path("events")) == Path("events.labels.jsonl")


def test_jsonl_holds_every_message_that_has_a_json_form(tmp_path: Path, messages):
    report = write_jsonl(tmp_path / "events.jsonl", messages)
    lines = (tmp_path / "events.jsonl").read_bytes().splitlines()
    with_json = [m for m in messages if m.as_json is not None]
    assert report.events_written == len(lines) == len(with_json)
    assert lines == [m.as_json for m in with_json]
    assert report.skipped_not_json == len(messages) - len(with_json)
    not_json = {
        "malformed_json",
        "corrupt_bytes",
        "non_finite",
        "tombstone",
        "avro_unknown_fingerprint",
        "avro_truncated",
    }
    assert {m.fault for m in messages if m.as_json is None} == not_json
    for line, m in zip(lines, with_json, strict=True):
        if m.fault != "deep_nesting":  # valid JSON, but possibly deeper than any parser here accepts
            orjson.loads(line)
    # Avro events are written as their records, so the file is all JSON
    avro = [m for m in messages if m.encoding == "avro" and m.is_valid]
    assert avro and all(orjson.loads(m.as_json)["event_id"] == m.event_id for m in avro)  # type: ignore[arg-type]


def test_labels_file_has_one_line_per_labelled_valid_event(tmp_path: Path, messages):
    report = write_jsonl(tmp_path / "events.jsonl", messages)
    labels = read_jsonl(report.labels_path)
    expected = [m for m in messages if m.is_valid and m.label is not None]
    assert report.labels_written == len(labels) == len(expected)
    assert labels[0] == {
        "event_id": expected[0].event_id,
        "event_type": expected[0].event_type,
        "label": expected[0].label,
    }
    assert {row["label"] for row in labels} >= {"fraud", "legit", "accept", "reject", "routine"}
    assert len({row["event_id"] for row in labels}) == len(labels)


def test_files_are_replaced_whole(tmp_path: Path, messages):
    path = tmp_path / "events.jsonl"
    path.write_text("stale\n" * 10_000)
    write_jsonl(path, messages[:10])
    assert len(path.read_bytes().splitlines()) <= 10
    assert not list(tmp_path.glob("*.tmp"))


def test_manifest_lists_every_message_with_its_truth(tmp_path: Path, messages):
    path = tmp_path / "truth.jsonl"
    assert write_manifest(path, messages, include_values=True) == len(messages)
    rows = read_jsonl(path)
    assert len(rows) == len(messages)
    for row, m in zip(rows, messages, strict=True):
        assert row["expected"] == m.expected
        assert (row["expected_stage"], row["expected_code"]) == (m.expected_stage, m.expected_code)
        assert row["event_id"] == m.event_id and row["fault"] == m.fault
        value = base64.b64decode(row["value_b64"]) if row["value_b64"] is not None else None
        assert value == m.value


def test_manifest_with_kafka_positions(tmp_path: Path, messages):
    path = tmp_path / "truth.jsonl"
    positions = [(i % 6, i // 6) if i % 7 else None for i in range(len(messages))]
    write_manifest(path, messages, positions=positions)
    rows = read_jsonl(path)
    assert (rows[1]["partition"], rows[1]["offset"]) == (1, 0)
    assert (rows[0]["partition"], rows[0]["offset"]) == (None, None)
    assert "value_b64" not in rows[0]


class FakeMessage:
    def __init__(self, partition: int, offset: int) -> None:
        self._partition, self._offset = partition, offset

    def partition(self) -> int:
        return self._partition

    def offset(self) -> int:
        return self._offset


class FakeProducer:
    """Records produce calls; refuses the first few with BufferError; fails every 10th delivery."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.produced: list[dict[str, Any]] = []
        self.pending: list[Any] = []
        self.buffer_errors = 3
        self.polls = 0

    def produce(self, topic: str, **kwargs: Any) -> None:
        if self.buffer_errors:
            self.buffer_errors -= 1
            raise BufferError("Local: Queue full")
        if kwargs["value"] == b"refuse me":
            from confluent_kafka import KafkaError, KafkaException

            raise KafkaException(KafkaError(KafkaError.MSG_SIZE_TOO_LARGE))
        self.produced.append({"topic": topic, **kwargs})
        self.pending.append(kwargs["on_delivery"])

    def poll(self, timeout: float) -> int:
        self.polls += 1
        return self._deliver()

    def flush(self, timeout: float) -> int:
        self._deliver()
        return 0

    def _deliver(self) -> int:
        delivered = 0
        for callback in self.pending:
            n = len(self.produced) - len(self.pending) + delivered
            err = "Broker: Message size too large" if n % 10 == 9 else None
            callback(err, FakeMessage(n % 3, n))
            delivered += 1
        self.pending = []
        return delivered


def test_kafka_sink_produces_in_order_and_reports_failures(messages):
    producers: list[FakeProducer] = []

    def factory(config: dict[str, Any]) -> FakeProducer:
        producers.append(FakeProducer(config))
        return producers[-1]

    batch = messages[:50]
    report = produce_to_kafka(
        batch, topic="events.raw", client_config={"bootstrap.servers": "x:9092"}, producer_factory=factory
    )
    producer = producers[0]
    assert producer.config["enable.idempotence"] is True
    assert producer.config["linger.ms"] == 20
    assert producer.config["message.max.bytes"] == PRODUCER_MAX_MESSAGE_BYTES
    assert producer.config["bootstrap.servers"] == "x:9092"
    assert [p["value"] for p in producer.produced] == [m.value for m in batch]  # BufferError retried, order kept
    assert [p["key"] for p in producer.produced] == [m.key for m in batch]
    assert producer.produced[0]["headers"] == list(batch[0].headers)
    assert report.produced == 50
    assert report.failed == 5 and report.delivered == 45 and not report.ok
    assert report.positions[0] == (0, 0) and report.positions[9] is None
    assert all("too large" in e for e in report.errors)


def test_kafka_sink_reports_messages_the_client_refuses(messages):
    refused = SimulatedMessage(b"k", b"refuse me", (), None, None, None, "valid", None, None)
    report = produce_to_kafka(
        [messages[0], refused], topic="t", client_config={}, producer_factory=lambda c: FakeProducer(c)
    )
    assert report.failed == 1 and report.positions[1] is None
    assert any("message 1" in e for e in report.errors)
