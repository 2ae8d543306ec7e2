"""Hostile bodies cost the gateway a bounded child process, never its event loop: while PDF bombs
and a 9.9 MB body of ``[]`` are being worked on, /healthz keeps answering fast."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import httpx

from processor.ingest.auth import hash_token, new_token

from .conftest import Gateway

_P99_LIMIT_S = 0.1
_TOO_COMPLEX = (422, "body_too_complex")


def _pdf_bomb(objects: int = 100_000) -> bytes:
    """A PDF whose startxref points nowhere: pypdf rebuilds the cross-reference table by scanning
    every object of the file (about 2 s of CPU for these 7 MB; 33 s for the 49 MB of the report)."""
    parts = [b"%PDF-1.4\n"]
    parts.extend(
        b"%d 0 obj\n<< /Type /Page /Parent 2 0 R /Kids [%d 0 R] >>\nendobj\n" % (i, i + 1) for i in range(1, objects)
    )
    parts.append(b"trailer\n<< /Root 1 0 R /Size %d >>\nstartxref\n999999999\n%%%%EOF\n" % objects)
    return b"".join(parts)


@contextmanager
def _healthz_latencies(base_url: str) -> Iterator[list[float]]:
    """Probe /healthz every 20 ms on its own connection until the block ends."""
    latencies: list[float] = []
    stop = threading.Event()

    def probe() -> None:
        with httpx.Client(base_url=base_url, timeout=30) as client:
            while not stop.is_set():
                started = time.monotonic()
                assert client.get("/healthz").status_code == 200
                latencies.append(time.monotonic() - started)
                stop.wait(0.02)

    thread = threading.Thread(target=probe)
    thread.start()
    try:
        yield latencies
    finally:
        stop.set()
        thread.join()


def _p99(latencies: list[float]) -> float:
    ordered = sorted(latencies)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def test_pdf_bombs_get_document_too_complex_and_healthz_stays_fast(
    gateway_process: Callable[..., Gateway],
) -> None:
    gateway = gateway_process(ingest={"document_cpu_s": 1.0, "document_timeout_s": 10.0})
    bomb = _pdf_bomb()
    base_url = str(gateway.client.base_url)

    def upload(i: int) -> httpx.Response:
        with httpx.Client(base_url=base_url, timeout=60) as client:
            return client.post(
                "/v1/documents",
                headers=gateway.auth,
                data={"uploader_id": f"u{i}"},
                files={"file": (f"bomb-{i}.pdf", bomb, "application/pdf")},
            )

    with _healthz_latencies(base_url) as latencies, ThreadPoolExecutor(3) as pool:
        started = time.monotonic()
        answers = list(pool.map(upload, range(3)))
        took = time.monotonic() - started
    for answer in answers:
        assert answer.status_code == 422, answer.text
        assert answer.json()["error"]["code"] == "document_too_complex"
    assert took < 20, f"three bombs took {took:.1f} s"
    assert len(latencies) >= 10
    assert _p99(latencies) < _P99_LIMIT_S, f"/healthz p99 {_p99(latencies) * 1000:.0f} ms while bombs were inspected"
    metrics = gateway.client.get("/metrics").text
    assert 'ingest_rejections_total{reason="document_too_complex",route="/v1/documents"} 3.0' in metrics


def test_a_huge_body_of_nested_arrays_does_not_stall_healthz(gateway_process: Callable[..., Gateway]) -> None:
    gateway = gateway_process(ingest={"parse_cpu_s": 1.0, "parse_timeout_s": 10.0})
    base_url = str(gateway.client.base_url)
    headers = {**gateway.auth, "Content-Type": "application/json"}
    flat = b"[" + b"[]," * 3_300_000 + b"[]]"  # 9.9 MB: 3.3 M empty arrays in one batch
    # under the item limit, every array inside events: the nesting walk itself is the cost
    inner = b"[" + b"[]," * 3_300 + b"[]]"
    event = b'{"event_id": "e", "event_type": "user_signed_up", "entity_id": "u", "occurred_at": 1, "x": %s}' % inner
    crowded = b"[" + b",".join([event] * 999) + b"]"
    assert len(flat) > 9_900_000 and len(crowded) < gateway.settings.ingest.max_batch_bytes

    with _healthz_latencies(base_url) as latencies, httpx.Client(base_url=base_url, timeout=60) as client:
        started = time.monotonic()
        too_many = client.post("/v1/events", content=flat, headers=headers)
        heavy = client.post("/v1/events", content=crowded, headers=headers)
        took = time.monotonic() - started
    # refused either way: over the item limit, or over the CPU budget before the count is known
    # (parsing 3.3 M arrays alone takes about a second here)
    assert (too_many.status_code, too_many.json()["error"]["code"]) in ((413, "too_many_items"), _TOO_COMPLEX)
    assert (heavy.status_code, heavy.json()["error"]["code"]) == _TOO_COMPLEX, heavy.text
    assert took < 20
    assert len(latencies) >= 10
    assert _p99(latencies) < _P99_LIMIT_S, f"/healthz p99 {_p99(latencies) * 1000:.0f} ms during a 9.9 MB body"


def test_each_client_has_an_upload_quota(gateway_factory: Callable[..., Gateway]) -> None:
    mine, theirs = new_token(), new_token()
    gateway = gateway_factory(
        ingest={"api_tokens": {"a": hash_token(mine), "b": hash_token(theirs)}, "upload_quota_bytes": 10_000}
    )

    def upload(token: str, i: int) -> httpx.Response:
        return gateway.client.post(
            "/v1/documents",
            headers={"Authorization": f"Bearer {token}"},
            data={"uploader_id": "u"},
            files={"file": (f"{i}.txt", b"%d" % i + b"x" * 6_000, "text/plain")},
        )

    assert upload(mine, 1).status_code == 202
    over = upload(mine, 2)
    assert (over.status_code, over.json()["error"]["code"]) == (429, "upload_quota_exceeded")
    assert upload(theirs, 3).status_code == 202  # another client's quota is its own
    incoming = gateway.settings.ingest.upload_dir / ".incoming"
    assert list(incoming.iterdir()) == []  # a refused upload leaves nothing behind
