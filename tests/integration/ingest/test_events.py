"""POST /v1/events on the real broker: batches with bad items, keys, and back-pressure."""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Callable
from typing import Any

import orjson

from processor.audit import read_topic

from .conftest import Gateway


def _event(i: int, run: str) -> dict[str, Any]:
    return {
        "event_id": f"{run}-{i}",
        "event_type": "user_signed_up",
        "schema_version": 2,
        "occurred_at": int(time.time() * 1000),
        "entity_id": f"{run}-user-{i % 2}",
        "source": "tests",  # the client's own name: what an unscoped token may send
        "email": f"p{i}@example.com",
    }


def _raw(gateway: Gateway) -> list[Any]:
    return read_topic(gateway.settings, gateway.settings.topics.raw, idle_s=0.5)


def test_a_batch_with_one_bad_item_accepts_the_rest_and_reports_it(gateway_factory: Callable[..., Gateway]) -> None:
    gateway = gateway_factory()
    run = uuid.uuid4().hex[:8]
    batch: list[Any] = [_event(0, run), _event(1, run), {**_event(2, run), "entity_id": None}, _event(3, run)]
    response = gateway.client.post("/v1/events", json=batch, headers=gateway.auth)
    assert response.status_code == 202, response.text
    body = response.json()
    assert [a["index"] for a in body["accepted"]] == [0, 1, 3]
    # namespaced by the client: no other client can take these ids
    assert [a["event_id"] for a in body["accepted"]] == [f"tests/{run}-0", f"tests/{run}-1", f"tests/{run}-3"]
    assert body["rejected"] == [
        {
            "index": 2,
            "event_id": f"{run}-2",
            "status": 422,
            "code": "missing_envelope_field",
            "message": "envelope field entity_id is missing",
            "field": "entity_id",
        }
    ]
    messages = _raw(gateway)
    assert len(messages) == 3
    by_id = {orjson.loads(m.value())["event_id"]: m for m in messages}
    assert set(by_id) == {f"tests/{run}-0", f"tests/{run}-1", f"tests/{run}-3"}
    for i in (0, 1, 3):
        message = by_id[f"tests/{run}-{i}"]
        sent = orjson.loads(message.value())
        assert sent == _event(i, run) | {"event_id": f"tests/{run}-{i}", "occurred_at": sent["occurred_at"]}
        assert message.key() == f"{run}-user-{i % 2}".encode()  # keyed by entity id
        assert dict(message.headers())["ingest-client"] == b"tests"
    # one entity, one partition
    assert by_id[f"tests/{run}-1"].partition() == by_id[f"tests/{run}-3"].partition()


def test_single_events_and_whole_batches_that_fail_get_the_status_of_their_failure(
    gateway_factory: Callable[..., Gateway],
) -> None:
    gateway = gateway_factory()
    run = uuid.uuid4().hex[:8]
    single = gateway.client.post("/v1/events", json={**_event(0, run), "event_type": "x"}, headers=gateway.auth)
    assert single.status_code == 422
    assert single.json()["error"]["code"] == "unknown_event_type"
    assert single.json()["accepted"] == []

    all_bad = gateway.client.post("/v1/events", json=[1, "two", None], headers=gateway.auth)
    assert all_bad.status_code == 400
    assert [r["code"] for r in all_bad.json()["rejected"]] == ["not_an_object"] * 3

    ok = gateway.client.post("/v1/events", json=_event(1, run), headers=gateway.auth)
    assert ok.status_code == 202
    assert [m.key() for m in _raw(gateway)] == [f"{run}-user-1".encode()]

    metrics = gateway.client.get("/metrics").text
    assert 'ingest_rejections_total{reason="not_an_object",route="/v1/events"} 3.0' in metrics
    assert 'ingest_rejections_total{reason="unknown_event_type",route="/v1/events"} 1.0' in metrics


def test_when_kafka_cannot_keep_up_requests_get_503_with_retry_after(
    gateway_factory: Callable[..., Gateway],
) -> None:
    # a broker that never answers: every message stays in flight, as when Kafka is slow
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead = f"127.0.0.1:{sock.getsockname()[1]}"
    gateway = gateway_factory(
        create_topics=False, kafka={"bootstrap_servers": dead}, ingest={"max_in_flight": 3, "delivery_timeout_s": 1.0}
    )
    run = uuid.uuid4().hex[:8]
    slow = gateway.client.post("/v1/events", json=[_event(0, run), _event(1, run)], headers=gateway.auth)
    assert slow.status_code == 503, slow.text
    assert slow.headers["retry-after"] == "2"
    assert slow.json()["error"]["code"] == "delivery_timeout"

    # two events are still waiting for Kafka: a request of two more does not fit the window of three
    full = gateway.client.post("/v1/events", json=[_event(2, run), _event(3, run)], headers=gateway.auth)
    assert full.status_code == 503
    assert full.headers["retry-after"] == "2"
    assert full.json()["error"]["code"] == "backpressure"

    ready = gateway.client.get("/readyz")
    assert ready.status_code == 503
    assert "kafka" in ready.text
    metrics = gateway.client.get("/metrics").text
    assert "ingest_in_flight_messages 2.0" in metrics
    assert 'ingest_produce_failures_total{reason="backpressure"} 2.0' in metrics
    assert 'ingest_rejections_total{reason="backpressure",route="/v1/events"} 1.0' in metrics
