"""Replay quarantined records to the input topic, once each.

The original key, value and headers go back to the input topic unchanged, plus headers that
record the replay (``processor.replay_headers``). Two things keep a selection from being
produced twice:

- a ledger in Redis (one key per replayed quarantine record, set after the produce is
  acknowledged) makes a second ``replay`` of the same selection skip what was already sent;
- should the ledger miss one (a crash between produce and ledger write, ``--force``), the copy
  carries the same replay identity, and the processor drops it as a duplicate.

The replayed event itself is processed again: its dedupe identity includes the quarantine record
it replays, so the mark left by its quarantined attempt does not hide it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import redis
from confluent_kafka import KafkaError, Message, Producer

from processor.config import Settings
from processor.kafka.clients import MAX_OUTPUT_MESSAGE_BYTES
from processor.messages import Headers
from processor.quarantine.records import QuarantinedRecord
from processor.replay_headers import (
    REPLAY_OF,
    REPLAY_REASON,
    REPLAY_SOURCE,
    REPLAYED_AT,
    REPLAYED_BY,
    without_replay_headers,
)
from processor.state.redis_client import read_many


@dataclass(slots=True)
class ReplayReport:
    selected: int = 0
    replayed: list[str] = field(default_factory=list)  # quarantine coordinates sent
    already_replayed: list[str] = field(default_factory=list)  # skipped: the ledger has them
    failed: dict[str, str] = field(default_factory=dict)  # coordinate -> delivery error

    def render(self) -> str:
        lines = [
            f"selected {self.selected}, replayed {len(self.replayed)}, "
            f"skipped (already replayed) {len(self.already_replayed)}, failed {len(self.failed)}"
        ]
        lines += [f"FAILED {coordinate}: {error}" for coordinate, error in sorted(self.failed.items())]
        return "\n".join(lines)


class ReplayLedger:
    """Which quarantine records were replayed, when and by whom: ``<prefix>qreplay:<coordinate>``."""

    def __init__(self, client: redis.Redis, prefix: str, ttl_s: int) -> None:
        self._client = client
        self._prefix = prefix
        self._ttl_s = ttl_s

    def _key(self, coordinate: str) -> str:
        return f"{self._prefix}qreplay:{coordinate}"

    def replayed(self, coordinates: Sequence[str]) -> dict[str, dict[str, Any]]:
        if not coordinates:
            return {}
        values = read_many(self._client, [self._key(c) for c in coordinates])
        return {c: json.loads(v) for c, v in zip(coordinates, values, strict=True) if v is not None}

    def record(self, entries: dict[str, dict[str, Any]]) -> None:
        pipe = self._client.pipeline(transaction=False)
        for coordinate, entry in entries.items():
            pipe.set(self._key(coordinate), json.dumps(entry), ex=self._ttl_s)
        pipe.execute()


def replay_headers(record: QuarantinedRecord, replayed_at_ms: int, replayed_by: str) -> Headers:
    return (
        *without_replay_headers(record.headers),
        (REPLAY_OF, record.coordinate.encode()),
        (REPLAY_SOURCE, record.source_position.encode()),
        (REPLAYED_AT, str(replayed_at_ms).encode()),
        (REPLAYED_BY, replayed_by.encode()),
        (REPLAY_REASON, f"{record.stage}/{record.error_code}".encode()),
    )


def _producer(settings: Settings) -> Producer:
    conf = settings.kafka.client_config()
    conf.update(
        {
            "enable.idempotence": True,  # a retried send is written once
            "acks": "all",
            "linger.ms": 20,
            "partitioner": "murmur2_random",  # the same key -> partition mapping as the original producers
            "message.max.bytes": MAX_OUTPUT_MESSAGE_BYTES + 65_536,
        }
    )
    return Producer(conf)


def replay(
    settings: Settings,
    records: Sequence[QuarantinedRecord],
    ledger: ReplayLedger,
    *,
    replayed_by: str,
    force: bool = False,
    dry_run: bool = False,
    make_producer: Callable[[Settings], Producer] = _producer,
) -> ReplayReport:
    """Send each selected record's original bytes to the input topic; skip those already replayed."""
    report = ReplayReport(selected=len(records))
    done = {} if force else ledger.replayed([r.coordinate for r in records])
    todo = [r for r in records if r.coordinate not in done]
    report.already_replayed = [r.coordinate for r in records if r.coordinate in done]
    if dry_run or not todo:
        report.replayed = [r.coordinate for r in todo] if dry_run else []
        return report

    producer = make_producer(settings)
    now_ms = int(time.time() * 1000)
    delivered: dict[str, dict[str, Any]] = {}

    def on_delivery(coordinate: str) -> Callable[[KafkaError | None, Message], None]:
        def done_(err: KafkaError | None, msg: Message) -> None:
            if err is not None:
                report.failed[coordinate] = str(err)
            else:
                delivered[coordinate] = {
                    "replayed_at": now_ms,
                    "by": replayed_by,
                    "to": f"{msg.topic()}:{msg.partition()}:{msg.offset()}",
                }

        return done_

    for record in todo:
        while True:
            try:
                producer.produce(
                    settings.topics.raw,
                    value=record.value,
                    key=record.key,
                    headers=list(replay_headers(record, now_ms, replayed_by)),
                    on_delivery=on_delivery(record.coordinate),
                )
                break
            except BufferError:
                producer.poll(0.1)
        producer.poll(0)
    remaining = producer.flush(60)
    for record in todo:
        if record.coordinate not in delivered and record.coordinate not in report.failed and remaining:
            report.failed[record.coordinate] = "not acknowledged within 60 s"
    # only what the broker acknowledged goes in the ledger: an unacknowledged record may be
    # replayed again, and the processor's replay dedupe drops it if the first send did land
    ledger.record(delivered)
    report.replayed = [r.coordinate for r in todo if r.coordinate in delivered]
    return report
