"""poison: a batch that raised is redone one message at a time; the single one that still raises
is quarantined (stage=processing, unhandled_exception) with its exact bytes."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest

from processor.config import TopicsSettings
from processor.messages import RawMessage
from processor.poison import PoisonPolicy
from processor.serializers.outputs import OutputEncoder, decode_json_output
from processor.serializers.schemas import SchemaStore
from processor.stages.route import Router

RawFactory = Callable[..., RawMessage]


@pytest.fixture
def policy(schema_store: SchemaStore) -> PoisonPolicy:
    topics = TopicsSettings(scored="out.scored", review="out.review", quarantine="out.quarantine")
    return PoisonPolicy(Router(topics, OutputEncoder(schema_store)))


def test_a_batch_that_raised_is_read_again_one_message_at_a_time(
    policy: PoisonPolicy, raw_factory: RawFactory, caplog: pytest.LogCaptureFixture
) -> None:
    assert policy.batch_size(500) == 500
    raws = [raw_factory(b"{}") for _ in range(3)]
    with caplog.at_level(logging.WARNING, logger="processor.poison"):
        assert policy.isolate(raws, TypeError("boom")) is None
    assert "batch of 3 raised TypeError" in caplog.text
    sizes = []
    for _ in range(4):  # the three messages one by one, then full batches again
        sizes.append(policy.batch_size(500))
        policy.consumed(1)
    assert sizes == [1, 1, 1, 500]


def test_a_consume_of_several_messages_counts_them_all(policy: PoisonPolicy, raw_factory: RawFactory) -> None:
    policy.isolate([raw_factory(b"{}") for _ in range(5)], ValueError("x"))
    policy.consumed(4)
    assert policy.batch_size(100) == 1
    policy.consumed(3)  # never below zero
    assert policy.batch_size(100) == 100
    policy.consumed(0)
    assert policy.batch_size(100) == 100


def test_the_single_message_that_still_raises_is_quarantined_with_its_bytes(
    policy: PoisonPolicy, raw_factory: RawFactory
) -> None:
    raw = raw_factory(b'{"event_id": "x"}', key=b"k-9", headers=(("trace", b"\x01"),), partition=4, offset=77)
    prepared = policy.isolate([raw], TypeError("unsupported operand for this event"))
    assert prepared is not None
    assert prepared.changes == []  # the reorder buffers were not touched by it
    stats = prepared.stats
    assert stats.inputs == 1
    assert stats.quarantined == {("processing", "unhandled_exception"): 1}
    assert stats.outcomes == {("unknown", "quarantined"): 1}
    (record,) = prepared.outputs
    assert record.topic == "out.quarantine" and record.key == b"k-9"
    body = decode_json_output(record.value)
    assert (body["stage"], body["error_code"]) == ("processing", "unhandled_exception")
    assert body["error_message"] == "TypeError: unsupported operand for this event"
    assert (body["source_partition"], body["source_offset"]) == (4, 77)
    assert policy.batch_size(10) == 10  # nothing left to isolate
