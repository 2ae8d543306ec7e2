"""Integration fixtures: the real Kafka broker and Redis of deploy/local, started once per session.

Each test gets unique topic names, consumer group, transactional id and Redis key prefix, so
tests never see each other's data.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from helpers.kafka import settings_env
from processor.config import PROJECT_ROOT, Settings, load_settings
from processor.kafka.admin import create_topics

BOOTSTRAP = os.environ.get("PROCESSOR_KAFKA__BOOTSTRAP_SERVERS", "localhost:9092")
REDIS_URL = os.environ.get("PROCESSOR_REDIS__URL", "redis://localhost:6379/0")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "integration" in str(item.path):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session", autouse=True)
def stack() -> None:
    """Start the local stack when it is not running (idempotent); never skip for a missing service."""
    subprocess.run(["bash", str(PROJECT_ROOT / "deploy/local/stack.sh"), "up"], check=True)


@pytest.fixture
def redis_client(stack: None) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(REDIS_URL)
    yield client
    client.close()


@pytest.fixture
def settings_factory(tmp_path: Path, stack: None) -> Callable[..., Settings]:
    """Settings with unique topics, group, transactional id and Redis prefix for one test."""
    run = uuid.uuid4().hex[:10]

    def make(**overrides: Any) -> Settings:
        processing = {"batch_timeout_ms": 100, "idle_timeout_ms": 500, "allowed_lateness_ms": 2_000}
        processing.update(overrides.pop("processing", {}))
        models_dir = overrides.pop("models_dir", tmp_path / "models")
        kafka = {"bootstrap_servers": BOOTSTRAP, "group_id": f"it-{run}", "transactional_id": f"it-{run}"}
        kafka.update(overrides.pop("kafka", {}))
        overrides.setdefault("project_dir", PROJECT_ROOT)  # the example project, whatever the working directory
        return load_settings(
            kafka=kafka,
            redis={"url": REDIS_URL, "key_prefix": f"it:{run}:"},
            topics={
                "raw": f"it.{run}.raw",
                "scored": f"it.{run}.scored",
                "review": f"it.{run}.review",
                "quarantine": f"it.{run}.quarantine",
                "feedback": f"it.{run}.feedback",
                "raw_partitions": overrides.pop("raw_partitions", 3),
                "output_partitions": 3,
            },
            processing=processing,
            models={"dir": str(models_dir), "reload_interval_s": 1},
            metrics={"enabled": False},
            **overrides,
        )

    return make


@pytest.fixture
def topic_factory(settings_factory: Callable[..., Settings]) -> Callable[..., Settings]:
    """Settings whose topics exist on the broker."""

    def make(**overrides: Any) -> Settings:
        settings = settings_factory(**overrides)
        create_topics(settings)
        return settings

    return make


@pytest.fixture
def processor_factory() -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    """Start `processor run` as a real subprocess (so tests can kill -9 it); cleaned up after."""
    started: list[subprocess.Popen[bytes]] = []

    def start(settings: Settings, *args: str, log: Path | None = None) -> subprocess.Popen[bytes]:
        out = open(log, "ab") if log is not None else subprocess.DEVNULL  # noqa: SIM115
        proc = subprocess.Popen(
            [sys.executable, "-m", "processor", "run", *args], env=settings_env(settings), stdout=out, stderr=out
        )
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


@pytest.fixture(scope="session")
def trained_models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model per event type, trained once per session on simulated history (real Jira tickets)."""
    from processor.config import load_pipelines
    from processor.devtools.simulate import FaultMix, simulate, write_jsonl
    from processor.training.training import Guards, train_model

    root = tmp_path_factory.mktemp("models")
    settings = load_settings(models={"dir": str(root)})
    pipelines = load_pipelines(settings.pipelines_file)
    counts = {"user_signed_up": 3_000, "document_uploaded": 3_000, "jira_ticket_created": 2_503}
    for event_type, count in counts.items():
        path = root / f"{event_type}.jsonl"
        write_jsonl(path, simulate(count, seed=5, types=(event_type,), faults=FaultMix.none(), span_s=86_400.0))
        train_model(
            event_type=event_type,
            events_path=path,
            labels_path=path.with_name(f"{event_type}.labels.jsonl"),
            settings=settings,
            pipelines=pipelines,
            # the Jira history is real 2020-2024 tickets; a one-day span puts the validation split in
            # hours of the day training never saw (the shift guard would rightly refuse it)
            guards=Guards(allow_stale=True, allow_shift=True),
        )
    return root
