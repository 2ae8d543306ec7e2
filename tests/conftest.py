"""Fixtures shared by every test: settings, the schema store, the pipeline config, raw messages."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import orjson
import pytest

from processor.config import PROJECT_ROOT, PipelinesConfig, Settings, load_pipelines, load_settings
from processor.messages import Headers, RawMessage
from processor.serializers.schemas import SchemaStore

RawFactory = Callable[..., RawMessage]


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No ``PROCESSOR_*`` variable of the calling shell leaks into a test."""
    for name in list(os.environ):
        if name.startswith("PROCESSOR_"):
            monkeypatch.delenv(name)
    return monkeypatch


@pytest.fixture
def settings(clean_env: pytest.MonkeyPatch) -> Settings:
    return load_settings()


@pytest.fixture(scope="session")
def schema_store() -> SchemaStore:
    return SchemaStore(PROJECT_ROOT / "schemas")


@pytest.fixture(scope="session")
def pipelines() -> PipelinesConfig:
    return load_pipelines(PROJECT_ROOT / "config" / "pipelines.yaml")


@pytest.fixture
def raw_factory() -> RawFactory:
    """``raw_factory(value)``: a RawMessage from bytes, None (a tombstone) or a dict (JSON-encoded).

    Offsets count up from 0 per test unless ``offset=`` is given.
    """
    next_offset = 0

    def make(
        value: bytes | dict[str, Any] | None,
        *,
        key: bytes | None = b"entity-1",
        headers: Headers = (),
        topic: str = "events.raw",
        partition: int = 0,
        offset: int | None = None,
        timestamp_ms: int | None = 1_717_200_000_000,
    ) -> RawMessage:
        nonlocal next_offset
        if offset is None:
            offset = next_offset
        next_offset = max(next_offset, offset) + 1
        body = orjson.dumps(value) if isinstance(value, dict) else value
        return RawMessage(topic, partition, offset, key, body, headers, timestamp_ms)

    return make
