"""Fixtures shared by every test: settings, the schema store, the pipeline config, raw messages,
and one valid sample record per input type."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import orjson
import pytest

from helpers.records import T0, envelope
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
        timestamp_ms: int | None = T0,
    ) -> RawMessage:
        nonlocal next_offset
        if offset is None:
            offset = next_offset
        next_offset = max(next_offset, offset) + 1
        body = orjson.dumps(value) if isinstance(value, dict) else value
        return RawMessage(topic, partition, offset, key, body, headers, timestamp_ms)

    return make


# -- sample records ------------------------------------------------------------------------------
# One valid record per input type, with every field of its latest schema, as a JSON producer sends
# it. Each test gets a fresh copy to change. The values are chosen to light up the model features
# (tests/unit/features/test_example_features.py asserts them) while passing decode and validation.


@pytest.fixture
def signup() -> dict[str, Any]:
    """A user_signed_up v2 event (tolerant type): every field of schemas/input/user_signed_up.v2.avsc."""
    return envelope("user_signed_up", "su-1", "user-1", schema_version=2, source="web", sequence=1) | {
        "email": "john.doe1984@mailinator.com",
        "country": "DE",
        "ip_address": "203.0.113.7",
        "ip_country": "NL",
        "device_type": "desktop",
        "user_agent": "Mozilla/5.0 (X11; Linux x86_64) HeadlessChrome/120.0",
        "plan": "pro",
        "marketing_source": "tiktok",
        "age_years": 34,
        "signup_duration_ms": 1500,
        "email_verified": False,
        "referral_code": "FRIEND10",
    }


@pytest.fixture
def jira() -> dict[str, Any]:
    """A jira_ticket_created v1 event (strict type): every field of schemas/input/jira_ticket_created.v1.avsc."""
    return envelope("jira_ticket_created", "jira-1", "HADOOP-1", schema_version=1, source="jira") | {
        "issue_id": "13404344",
        "issue_key": "HADOOP-1",
        "project_key": "HADOOP",
        "issue_type": "Bug",
        "priority": "Major",
        "summary": "NPE in FSDownload.verify() when the test is flaky?",
        "description": (
            "Seen on 3.3.1:\n{code}\njava.lang.NullPointerException\n\tat org.apache.hadoop.yarn.util.FSDownload"
            ".verify(FSDownload.java:255)\nCaused by: x\n{code}\nSee https://example.org/x"
        ),
        "reporter": "alice",
        "components": ["yarn"],
        "affects_versions": ["3.3.1", "3.4.0"],
        "labels": [],
        "status": "Open",
        "created": T0,
        "webhook_event": "jira:issue_created",
    }


@pytest.fixture
def document() -> dict[str, Any]:
    """A document_uploaded v1 event (strict type, late events quarantined): every field of its schema."""
    return envelope("document_uploaded", "doc-1", "doc-1", schema_version=1, source="gateway", sequence=3) | {
        "document_id": "d" * 16,
        "uploader_id": "u-42",
        "file_name": "invoice.pdf.exe",
        "mime_type": "application/pdf",
        "detected_mime_type": "application/x-dosexec",
        "size_bytes": 120_000,
        "page_count": 2,
        "sha256": "a" * 64,
        "upload_status": "ok",
        "status_reason": None,
        "storage_uri": "s3://bucket/doc-1",
    }
