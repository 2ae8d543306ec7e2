"""Connection limits on the real gateway process: half-sent requests are closed within the header
timeout, a trickled body gets 408, and the service keeps serving."""

from __future__ import annotations

import time
from collections.abc import Callable
from urllib.parse import urlsplit

from helpers.hostile import half_sent_requests, still_open

from .conftest import Gateway


def test_half_sent_requests_are_closed_within_the_header_timeout(gateway_process: Callable[..., Gateway]) -> None:
    gateway = gateway_process(ingest={"header_timeout_s": 1.0, "keep_alive_timeout_s": 1})
    url = urlsplit(str(gateway.client.base_url))
    assert url.hostname is not None and url.port is not None
    half = b"POST /v1/events HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\n"
    sockets = half_sent_requests(url.hostname, url.port, 50, half)
    try:
        time.sleep(0.3)
        assert still_open(sockets) == 50  # nothing is closed early: the timeout is what ends them
        time.sleep(2.0)
        assert still_open(sockets) == 0, "half-sent requests outlived the 1 s header timeout"
    finally:
        for sock in sockets:
            sock.close()
    assert gateway.client.get("/healthz").status_code == 200


def test_a_trickled_body_gets_408(gateway_process: Callable[..., Gateway]) -> None:
    gateway = gateway_process(ingest={"body_timeout_s": 1.0})

    def trickle() -> object:
        yield b"["
        time.sleep(2.0)
        yield b"]"

    answer = gateway.client.post(
        "/v1/events", content=trickle(), headers={**gateway.auth, "Content-Type": "application/json"}
    )
    assert (answer.status_code, answer.json()["error"]["code"]) == (408, "body_timeout")
