"""kafka.consuming: a batch's records from consumed messages (errors skipped, fatal ones raised)."""

from __future__ import annotations

import pytest
from confluent_kafka import KafkaError, KafkaException, Message

from processor.kafka.consuming import raws_of


def _message(partition: int, offset: int, error: KafkaError | None = None) -> Message:
    return Message(
        topic="events.raw",
        partition=partition,
        offset=offset,
        key=b"k",
        value=b"{}",
        timestamp=(1, 1_717_200_000_000),
        headers=[("trace", b"\x01")],
        error=error,
    )


def test_records_of_assigned_partitions_keep_their_position_and_bytes() -> None:
    raws = raws_of([_message(0, 10), _message(2, 5), _message(0, 11)], lambda p: p in (0, 2))
    assert [(r.partition, r.offset) for r in raws] == [(0, 10), (2, 5), (0, 11)]
    assert (raws[0].key, raws[0].value, raws[0].headers, raws[0].timestamp_ms) == (
        b"k",
        b"{}",
        (("trace", b"\x01"),),
        1_717_200_000_000,
    )


def test_messages_of_a_partition_revoked_meanwhile_are_dropped() -> None:
    raws = raws_of([_message(0, 10), _message(1, 3)], lambda p: p == 1)
    assert [(r.partition, r.offset) for r in raws] == [(1, 3)]


def test_a_consumer_error_event_is_skipped_and_a_fatal_one_raises() -> None:
    transient = _message(0, -1, KafkaError(KafkaError._TRANSPORT, "broker down"))
    assert raws_of([transient, _message(0, 4)], lambda _: True)[0].offset == 4
    fatal = _message(0, -1, KafkaError(KafkaError._FATAL, "fenced by a static member's rejoin", fatal=True))
    with pytest.raises(KafkaException):
        raws_of([_message(0, 4), fatal], lambda _: True)
