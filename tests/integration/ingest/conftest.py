"""Gateway fixtures: the app in-process (Starlette's TestClient, real producer, real broker) or the
real ``processor ingest serve`` subprocess on a free port."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from helpers.kafka import settings_env
from helpers.processes import stop
from processor.config import Settings
from processor.ingest.app import create_app
from processor.ingest.auth import hash_token, new_token

WEBHOOK_SECRET = "jira-shared-secret-for-tests"


@dataclass(frozen=True)
class Gateway:
    settings: Settings
    token: str
    client: httpx.Client  # a TestClient (in-process) or a real HTTP client (subprocess)
    process: subprocess.Popen[bytes] | None = None

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def _ingest_overrides(tmp_path: Path, token: str, **changes: Any) -> dict[str, Any]:
    ingest: dict[str, Any] = {
        "api_tokens": {"tests": hash_token(token)},
        "jira_webhook_secret": WEBHOOK_SECRET,
        "upload_dir": str(tmp_path / "uploads"),
        "delivery_timeout_s": 20.0,
    }
    ingest.update(changes)
    return ingest


@pytest.fixture
def gateway_factory(
    topic_factory: Callable[..., Settings], settings_factory: Callable[..., Settings], tmp_path: Path
) -> Iterator[Callable[..., Gateway]]:
    """The app in-process with its lifespan running (the producer talks to the real broker)."""
    clients: list[TestClient] = []

    def make(*, create_topics: bool = True, ingest: dict[str, Any] | None = None, **overrides: Any) -> Gateway:
        token = new_token()
        factory = topic_factory if create_topics else settings_factory
        settings = factory(ingest=_ingest_overrides(tmp_path, token, **(ingest or {})), **overrides)
        client = TestClient(create_app(settings), raise_server_exceptions=False)
        client.__enter__()
        clients.append(client)
        return Gateway(settings, token, client)

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def gateway_process(topic_factory: Callable[..., Settings], tmp_path: Path) -> Iterator[Callable[..., Gateway]]:
    """The real ``processor ingest serve`` subprocess, ready; stopped with SIGTERM afterwards."""
    started: list[Gateway] = []

    def start(ingest: dict[str, Any] | None = None, **overrides: Any) -> Gateway:
        token = new_token()
        settings = topic_factory(ingest=_ingest_overrides(tmp_path, token, **(ingest or {})), **overrides)
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        env = settings_env(settings)
        env.update(
            {
                "PROCESSOR_INGEST__HOST": "127.0.0.1",
                "PROCESSOR_INGEST__PORT": str(port),
                "PROCESSOR_INGEST__API_TOKENS": json.dumps(settings.ingest.api_tokens),
                "PROCESSOR_INGEST__JIRA_WEBHOOK_SECRET": WEBHOOK_SECRET,
                "PROCESSOR_INGEST__UPLOAD_DIR": str(settings.ingest.upload_dir),
            }
        )
        log = open(tmp_path / f"gateway-{port}.log", "wb")  # noqa: SIM115
        process = subprocess.Popen(
            [sys.executable, "-m", "processor", "ingest", "serve"], env=env, stdout=log, stderr=log
        )
        gateway = Gateway(settings, token, httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60), process)
        started.append(gateway)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert process.poll() is None, (tmp_path / f"gateway-{port}.log").read_text()
            try:
                if gateway.client.get("/readyz").status_code == 200:
                    return gateway
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise TimeoutError("the gateway was not ready within 60 s")

    yield start
    for gateway in started:
        gateway.client.close()
        assert gateway.process is not None
        stop(gateway.process, grace_s=30)
