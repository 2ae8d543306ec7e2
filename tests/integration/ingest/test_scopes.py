"""Scoped tokens and per-client event ids, on the real broker: a client cannot pose as Jira or as
the upload route, cannot send types or sources outside its scope, and cannot take another client's
(or an upload's) dedupe identity."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import orjson

from processor.audit import read_topic
from processor.ingest.auth import hash_token, new_token

from .conftest import Gateway

_OLD_UPLOAD_NAMESPACE = uuid.UUID("a4f0c3d2-6b1e-5f7a-9c8d-3e2b1a0f9e7d")  # what main used, unkeyed


def _signup(event_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "event_type": "user_signed_up",
        "schema_version": 2,
        "occurred_at": int(time.time() * 1000),
        "entity_id": "user-1",
        "email": "p@example.com",
        **fields,
    }


def _raw_ids(gateway: Gateway) -> list[str]:
    return [orjson.loads(m.value())["event_id"] for m in read_topic(gateway.settings, gateway.settings.topics.raw, 0.5)]


def _jira_like(event_id: str) -> dict[str, Any]:
    return {
        **_signup(event_id),
        "event_type": "jira_ticket_created",
        "entity_id": "HADOOP-1",
        "source": "jira",
        "issue_key": "HADOOP-1",
        "summary": "fake ticket",
    }


def test_a_token_cannot_pose_as_jira_or_the_upload_route(gateway_factory: Callable[..., Gateway]) -> None:
    gateway = gateway_factory()
    post = gateway.client.post
    fake_jira = post("/v1/events", json=_jira_like("j-1"), headers=gateway.auth)
    assert fake_jira.status_code == 403, fake_jira.text
    assert fake_jira.json()["error"]["code"] == "event_type_not_allowed"
    assert "/v1/webhooks/jira" in fake_jira.json()["error"]["message"]
    fake_upload = {
        **_signup("u-1"),
        "event_type": "document_uploaded",
        "source": "gateway",
        "storage_uri": "https://evil.example/x.pdf",
    }
    answer = post("/v1/events", json=fake_upload, headers=gateway.auth)
    assert (answer.status_code, answer.json()["error"]["code"]) == (403, "event_type_not_allowed")
    for source in ("jira", "gateway", "someone-else"):
        answer = post("/v1/events", json=_signup(f"s-{source}", source=source), headers=gateway.auth)
        assert (answer.status_code, answer.json()["error"]["field"]) == (403, "source"), source
    assert post("/v1/events", json=_signup("ok-1"), headers=gateway.auth).status_code == 202
    assert _raw_ids(gateway) == ["tests/ok-1"]
    metrics = gateway.client.get("/metrics").text
    assert 'ingest_rejections_total{reason="event_type_not_allowed",route="/v1/events"} 2.0' in metrics
    assert 'ingest_rejections_total{reason="source_not_allowed",route="/v1/events"} 3.0' in metrics


def test_a_scoped_token_sends_only_its_types_and_sources(gateway_factory: Callable[..., Gateway]) -> None:
    token = new_token()
    gateway = gateway_factory(
        ingest={
            "api_tokens": {"crm": hash_token(token)},
            "client_scopes": {"crm": {"event_types": ["user_signed_up"], "sources": ["crm-eu", "crm-us"]}},
        }
    )
    auth = {"Authorization": f"Bearer {token}"}
    ok = gateway.client.post("/v1/events", json=[_signup("a", source="crm-eu"), _signup("b")], headers=auth)
    assert ok.status_code == 202 and len(ok.json()["accepted"]) == 2
    refused = gateway.client.post("/v1/events", json=_signup("c", source="crm"), headers=auth)
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "source_not_allowed")
    assert sorted(_raw_ids(gateway)) == ["crm/a", "crm/b"]


def test_a_client_cannot_take_another_clients_event_id(gateway_factory: Callable[..., Gateway]) -> None:
    first, second = new_token(), new_token()
    gateway = gateway_factory(ingest={"api_tokens": {"alpha": hash_token(first), "beta": hash_token(second)}})
    post = gateway.client.post
    # beta gets in first with alpha's id, written both plainly and in alpha's namespace
    for event_id in ("order-1", "alpha/order-1"):
        stolen = post(
            "/v1/events", json=_signup(event_id, source="beta"), headers={"Authorization": f"Bearer {second}"}
        )
        assert stolen.status_code == 202
    real = post("/v1/events", json=_signup("order-1", source="alpha"), headers={"Authorization": f"Bearer {first}"})
    assert real.status_code == 202 and real.json()["accepted"][0]["event_id"] == "alpha/order-1"
    assert sorted(_raw_ids(gateway)) == ["alpha/order-1", "beta/alpha/order-1", "beta/order-1"]
    metrics = gateway.client.get("/metrics").text
    assert 'ingest_event_id_collisions_total{client="beta"} 1.0' in metrics


def test_upload_ids_are_keyed_by_a_server_secret(gateway_factory: Callable[..., Gateway]) -> None:
    secret = new_token()
    gateway = gateway_factory(ingest={"upload_id_secret": secret})
    other = gateway_factory(ingest={"upload_id_secret": new_token()})

    def upload(g: Gateway, key: str) -> str:
        files = {"file": ("a.txt", b"hello", "text/plain")}
        answer = g.client.post(
            "/v1/documents", files=files, data={"uploader_id": "u1"}, headers={**g.auth, "Idempotency-Key": key}
        )
        assert answer.status_code == 202, answer.text
        return str(answer.json()["event_id"])

    first = upload(gateway, "k-1")
    assert upload(gateway, "k-1") == first  # a retry is the same event
    assert first != str(uuid.uuid5(_OLD_UPLOAD_NAMESPACE, "tests|k-1"))  # nobody can compute it
    assert upload(other, "k-1") != first  # it depends on the secret, not only on client and key
    assert "/" not in first  # no client namespace: no /v1/events id can equal it
