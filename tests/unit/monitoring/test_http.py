"""The operations endpoint: /metrics, /healthz and /readyz answer as an orchestrator expects."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from processor.monitoring.http import Health, serve
from processor.monitoring.metrics import Metrics


@pytest.fixture
def endpoint() -> Iterator[tuple[str, Health, Metrics]]:
    metrics = Metrics.create()
    health = Health(stall_after_s=60)
    server = serve(metrics.registry, health, "127.0.0.1", 0)
    yield f"http://127.0.0.1:{server.server_address[1]}", health, metrics
    server.shutdown()


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_metrics_are_served_from_the_given_registry(endpoint: tuple[str, Health, Metrics]) -> None:
    url, _, metrics = endpoint
    metrics.duplicates.labels("user_signed_up").inc(3)
    status, body = _get(url + "/metrics")
    assert status == 200
    assert 'processor_duplicates_dropped_total{event_type="user_signed_up"} 3.0' in body


def test_readiness_follows_the_components(endpoint: tuple[str, Health, Metrics]) -> None:
    url, health, _ = endpoint
    assert _get(url + "/readyz") == (200, "ok\n")
    health.set_not_ready("redis", "unreachable: connection refused")
    status, body = _get(url + "/readyz")
    assert status == 503 and "redis: unreachable" in body
    assert _get(url + "/healthz")[0] == 200  # waiting for Redis is not a reason to restart
    health.set_ready("redis")
    assert _get(url + "/readyz")[0] == 200


def test_liveness_fails_when_the_loop_stalls(endpoint: tuple[str, Health, Metrics]) -> None:
    url, health, _ = endpoint
    health.stall_after_s = 0.0
    status, body = _get(url + "/healthz")
    assert status == 503 and "has not turned" in body
    health.stall_after_s = 60.0
    health.beat()
    assert _get(url + "/healthz")[0] == 200


def test_unknown_paths_are_404(endpoint: tuple[str, Health, Metrics]) -> None:
    url, _, _ = endpoint
    assert _get(url + "/nope")[0] == 404
