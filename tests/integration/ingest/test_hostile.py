"""Hostile HTTP input against the real gateway process: each gets a clear 4xx, nothing reaches
Kafka, and the service keeps serving."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx

from helpers.jira_webhook import encode, issue_created
from processor.audit import read_topic
from processor.ingest.auth import sign

from .conftest import WEBHOOK_SECRET, Gateway


def _chunks(total: int, size: int = 65_536) -> Iterator[bytes]:
    sent = 0
    while sent < total:
        yield b"[" + b" " * (size - 1)
        sent += size


def _code(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, response.json()["error"]["code"]


def test_hostile_requests_get_clear_errors_and_never_crash_the_service(
    gateway_process: Callable[..., Gateway],
) -> None:
    gateway = gateway_process()
    client, auth = gateway.client, gateway.auth
    ingest = gateway.settings.ingest
    json_auth = {**auth, "Content-Type": "application/json"}
    cases: list[tuple[str, httpx.Response, tuple[int, str]]] = []

    def check(name: str, response: httpx.Response, expected: tuple[int, str]) -> None:
        cases.append((name, response, expected))

    huge = b'{"event_id": "' + b"x" * (ingest.max_batch_bytes + 10) + b'"}'
    check(
        "huge body, Content-Length", client.post("/v1/events", content=huge, headers=json_auth), (413, "body_too_large")
    )
    check(
        "huge body, chunked without Content-Length",
        client.post("/v1/events", content=_chunks(ingest.max_batch_bytes + 200_000), headers=json_auth),
        (413, "body_too_large"),
    )
    check(
        "wrong content type",
        client.post("/v1/events", content=b"{}", headers={**auth, "Content-Type": "text/xml"}),
        (415, "unsupported_media_type"),
    )
    check("no content type", client.post("/v1/events", content=b"{}", headers=auth), (415, "unsupported_media_type"))
    check(
        "JSON in latin-1",
        client.post(
            "/v1/events", content=b"{}", headers={**auth, "Content-Type": "application/json; charset=iso-8859-1"}
        ),
        (415, "unsupported_charset"),
    )
    check(
        "invalid UTF-8",
        client.post("/v1/events", content=b'{"event_id": "\xc3\x28"}', headers=json_auth),
        (400, "invalid_utf8"),
    )
    check(
        "deep nesting",
        client.post("/v1/events", content=b"[" * 100_000 + b"]" * 100_000, headers=json_auth),
        (400, "too_deeply_nested"),
    )
    check(
        "deep nesting within the limit of orjson",
        client.post("/v1/events", content=b'{"a":' * 200 + b"1" + b"}" * 200, headers=json_auth),
        (400, "too_deeply_nested"),
    )
    check("NaN", client.post("/v1/events", content=b'{"event_id": NaN}', headers=json_auth), (400, "non_finite_number"))
    check("not JSON", client.post("/v1/events", content=b"<xml/>", headers=json_auth), (400, "invalid_json"))
    check("empty body", client.post("/v1/events", content=b"", headers=json_auth), (400, "empty_body"))
    check("a bare string", client.post("/v1/events", content=b'"hello"', headers=json_auth), (400, "not_an_object"))
    check("empty batch", client.post("/v1/events", content=b"[]", headers=json_auth), (400, "empty_batch"))
    too_many = b"[" + b",".join([b"{}"] * (ingest.max_batch_items + 1)) + b"]"
    check("too many items", client.post("/v1/events", content=too_many, headers=json_auth), (413, "too_many_items"))
    check("no token", client.post("/v1/events", json={}), (401, "unauthorized"))
    check(
        "wrong token",
        client.post("/v1/events", json={}, headers={"Authorization": "Bearer nope"}),
        (401, "unauthorized"),
    )
    check(
        "JSON to the upload route",
        client.post("/v1/documents", json={"file": "x"}, headers=auth),
        (415, "unsupported_media_type"),
    )
    check(
        "multipart without boundary",
        client.post("/v1/documents", content=b"--x--", headers={**auth, "Content-Type": "multipart/form-data"}),
        (400, "multipart_boundary_missing"),
    )
    check(
        "garbage multipart",
        client.post(
            "/v1/documents",
            content=b"--b\r\nContent-Disposition: form-data\r\n\r\n\xff\xfe\r\n--b",
            headers={**auth, "Content-Type": "multipart/form-data; boundary=b"},
        ),
        (400, "malformed_multipart"),
    )
    check(
        "upload without a file",
        client.post("/v1/documents", data={"uploader_id": "u"}, files={"other": ("a", b"x")}, headers=auth),
        (400, "file_missing"),
    )
    check(
        "upload without an uploader",
        client.post("/v1/documents", files={"file": ("a.pdf", b"%PDF-")}, headers=auth),
        (422, "missing_field"),
    )
    check(
        "two files",
        client.post(
            "/v1/documents",
            data={"uploader_id": "u"},
            files=[("file", ("a", b"1")), ("file", ("b", b"2"))],
            headers=auth,
        ),
        (400, "malformed_multipart"),
    )
    check(
        "upload over the size limit",
        client.post(
            "/v1/documents",
            data={"uploader_id": "u"},
            files={"file": ("big.pdf", b"%PDF-" + b"0" * (ingest.max_upload_bytes + 100_000))},
            headers=auth,
        ),
        (413, "body_too_large"),
    )

    def _multipart_stream() -> Iterator[bytes]:
        yield b'--b\r\nContent-Disposition: form-data; name="file"; filename="big.pdf"\r\n\r\n%PDF-'
        yield from _chunks(ingest.max_upload_bytes + 200_000)

    check(
        "chunked upload over the size limit, no Content-Length",
        client.post(
            "/v1/documents",
            content=_multipart_stream(),
            headers={**auth, "Content-Type": "multipart/form-data; boundary=b"},
        ),
        (413, "body_too_large"),
    )
    body = encode(issue_created())
    check(
        "webhook with a text content type",
        client.post(
            "/v1/webhooks/jira",
            content=body,
            headers={"Content-Type": "text/plain", "X-Hub-Signature": sign(WEBHOOK_SECRET.encode(), body)},
        ),
        (415, "unsupported_media_type"),
    )
    bad_json = b"{not json"
    check(
        "signed garbage webhook",
        client.post(
            "/v1/webhooks/jira",
            content=bad_json,
            headers={"Content-Type": "application/json", "X-Hub-Signature": sign(WEBHOOK_SECRET.encode(), bad_json)},
        ),
        (400, "invalid_json"),
    )
    no_issue = encode({"webhookEvent": "jira:issue_created", "timestamp": 1})
    check(
        "signed webhook without an issue",
        client.post(
            "/v1/webhooks/jira",
            content=no_issue,
            headers={"Content-Type": "application/json", "X-Hub-Signature": sign(WEBHOOK_SECRET.encode(), no_issue)},
        ),
        (422, "missing_field"),
    )

    wrong = [(name, r.status_code, r.text[:200], expected) for name, r, expected in cases if _code(r) != expected]
    assert wrong == []
    assert gateway.process is not None and gateway.process.poll() is None
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200
    assert read_topic(gateway.settings, gateway.settings.topics.raw, idle_s=0.5) == []
    assert (
        client.post("/v1/events", content=b"[]", headers={**auth, "Content-Type": "application/json"}).status_code
        == 400
    )
    metrics = client.get("/metrics").text
    assert 'ingest_rejections_total{reason="body_too_large",route="/v1/events"} 2.0' in metrics
    assert 'ingest_requests_total{route="/v1/events",status="413"}' in metrics
