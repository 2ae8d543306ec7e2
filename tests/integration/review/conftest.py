"""Review fixtures: settings with reviewers, `processor review serve` as a real subprocess, Debian's
chromium driven by Playwright (installed by deploy/local/install-chromium.sh; never downloaded)."""

from __future__ import annotations

import secrets
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from helpers.net import free_port
from helpers.processes import stop
from helpers.review import PASSWORDS, review_env
from processor.config import PROJECT_ROOT, ReviewSettings, Settings
from processor.review.passwords import hash_password

ARTIFACTS = PROJECT_ROOT / "tests" / "artifacts"


@pytest.fixture(scope="session")
def reviewer_hashes() -> dict[str, str]:
    return {name: hash_password(password) for name, password in PASSWORDS.items()}


@pytest.fixture
def review_settings_factory(
    topic_factory: Callable[..., Settings], reviewer_hashes: dict[str, str]
) -> Callable[..., Settings]:
    """Settings whose topics exist, with reviewers alice and bob, a free HTTP port and their own group."""

    def make(review: dict[str, Any] | None = None, **overrides: Any) -> Settings:
        settings = topic_factory(**overrides)
        run = uuid.uuid4().hex[:8]
        fields: dict[str, Any] = {
            "host": "127.0.0.1",
            "port": free_port(),
            "reviewers": {n: SecretStr(h) for n, h in reviewer_hashes.items()},
            "session_secret": SecretStr(secrets.token_hex(32)),
            "group_id": f"review-{run}",
            "transactional_id": f"review-{run}",
        }
        fields.update(review or {})
        return settings.model_copy(update={"review": ReviewSettings(**fields)})

    return make


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/readyz", timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


@pytest.fixture
def review_server(tmp_path: Path) -> Iterator[Callable[[Settings], str]]:
    """``start(settings)``: `processor review serve` as a subprocess; returns its base URL once ready."""
    started: list[subprocess.Popen[bytes]] = []

    def start(settings: Settings) -> str:
        log = open(tmp_path / f"review-serve-{len(started)}.log", "ab")  # noqa: SIM115
        proc = subprocess.Popen(
            [sys.executable, "-m", "processor", "review", "serve"], env=review_env(settings), stdout=log, stderr=log
        )
        started.append(proc)
        url = f"http://127.0.0.1:{settings.review.port}"
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise AssertionError(f"review serve exited with {proc.returncode}: {log.name}")
            if _ready(url):
                return url
            time.sleep(0.3)
        raise AssertionError(f"review serve not ready after 90 s: {log.name}")

    yield start
    for proc in started:
        stop(proc)


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """Debian's chromium, apt-installed by the project's own script when missing."""
    result = subprocess.run(
        ["bash", str(PROJECT_ROOT / "deploy/local/install-chromium.sh")], check=True, capture_output=True, text=True
    )
    return result.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="session")
def browser(chromium_path: str) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        # --no-sandbox: the tests run as root (CI), where chromium's sandbox refuses to start
        instance = pw.chromium.launch(executable_path=chromium_path, headless=True, args=["--no-sandbox"])
        yield instance
        instance.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(20_000)
    yield page
    context.close()


@pytest.fixture
def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Name the screenshots the browser tests left, so a CI log says where to look."""
    shots = sorted(ARTIFACTS.glob("*.png")) if ARTIFACTS.is_dir() else []
    if shots:
        terminalreporter.write_line("review test artifacts: " + ", ".join(str(p) for p in shots))
