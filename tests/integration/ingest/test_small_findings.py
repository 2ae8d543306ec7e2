"""The smaller findings on the gateway: no redirect built from Host, a bad ``issue.self`` is a 422,
no server path in answers, and a signed webhook outside the freshness window is refused."""

from __future__ import annotations

import time
from collections.abc import Callable

from helpers.jira_webhook import encode, issue_created
from processor.ingest.auth import sign

from .conftest import WEBHOOK_SECRET, Gateway


def _webhook(gateway: Gateway, body: bytes) -> tuple[int, dict[str, object]]:
    headers = {"Content-Type": "application/json", "X-Hub-Signature": sign(WEBHOOK_SECRET.encode(), body)}
    answer = gateway.client.post("/v1/webhooks/jira", content=body, headers=headers)
    return answer.status_code, answer.json()


def test_a_trailing_slash_never_redirects_to_the_host_header(gateway_factory: Callable[..., Gateway]) -> None:
    gateway = gateway_factory(create_topics=False)
    answer = gateway.client.post(
        "/v1/events/", json={}, headers={**gateway.auth, "Host": "evil.example"}, follow_redirects=False
    )
    assert answer.status_code == 404
    assert "location" not in answer.headers


def test_a_signed_webhook_with_a_bad_issue_self_is_a_422(gateway_factory: Callable[..., Gateway]) -> None:
    gateway = gateway_factory(create_topics=False)
    body = issue_created(timestamp=int(time.time() * 1000))
    body["issue"]["self"] = "http://[invalid"  # type: ignore[index]
    status, answer = _webhook(gateway, encode(body))
    assert status == 422 and answer["error"] == {
        "status": 422,
        "code": "invalid_issue_self",
        "message": "issue.self is not a URL",
        "field": "issue.self",
    }


def test_a_replayed_webhook_outside_the_freshness_window_is_refused(gateway_factory: Callable[..., Gateway]) -> None:
    gateway = gateway_factory(ingest={"webhook_max_age_s": 600})
    now = int(time.time() * 1000)
    for sent in (now - 601_000, now + 601_000):
        status, answer = _webhook(gateway, encode(issue_created(issue_id="4711", timestamp=sent)))
        assert (status, answer["error"]["code"]) == (422, "webhook_stale"), answer  # type: ignore[index]
    status, answer = _webhook(gateway, encode(issue_created(issue_id="4711", timestamp=now - 30_000)))
    assert status == 202, answer


def test_answers_carry_no_server_path(gateway_factory: Callable[..., Gateway]) -> None:
    gateway = gateway_factory()
    answer = gateway.client.post(
        "/v1/documents",
        headers=gateway.auth,
        data={"uploader_id": "u1"},
        files={"file": ("notes.txt", b"plain text", "text/plain")},
    )
    assert answer.status_code == 202, answer.text
    assert answer.json()["stored"] is True
    assert "storage_uri" not in answer.json()
    assert str(gateway.settings.ingest.upload_dir) not in answer.text and "file://" not in answer.text
