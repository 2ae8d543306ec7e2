"""Valid input records (JSON wire form) and the stages built on the real schemas and pipeline file."""

from __future__ import annotations

from typing import Any

import pytest

from processor.config import PipelinesConfig, Settings
from processor.serializers.schemas import SchemaStore
from processor.stages.decode import Decoder
from processor.stages.validate import Validator

T0 = 1_717_200_000_000  # 2024-06-01T00:00:00Z
NOW_MS = T0 + 3_600_000  # validation clock: an hour after T0


@pytest.fixture
def signup() -> dict[str, Any]:
    """A user_signed_up v2 event as a JSON producer sends it (tolerant type)."""
    return {
        "event_id": "su-1",
        "event_type": "user_signed_up",
        "schema_version": 2,
        "occurred_at": T0,
        "entity_id": "user-1",
        "sequence": 1,
        "source": "web",
        "email": "jane@example.com",
        "country": "DE",
        "ip_address": "203.0.113.7",
        "ip_country": "DE",
        "device_type": "desktop",
        "user_agent": "Mozilla/5.0",
        "plan": "pro",
        "marketing_source": "organic",
        "age_years": 34,
        "signup_duration_ms": 12_000,
        "email_verified": True,
        "referral_code": "FRIEND10",
    }


@pytest.fixture
def jira() -> dict[str, Any]:
    """A jira_ticket_created v1 event (strict type)."""
    return {
        "event_id": "jira-1",
        "event_type": "jira_ticket_created",
        "schema_version": 1,
        "occurred_at": T0,
        "entity_id": "HADOOP-1",
        "sequence": None,
        "source": "jira",
        "issue_id": "13404344",
        "issue_key": "HADOOP-1",
        "project_key": "HADOOP",
        "issue_type": "Bug",
        "priority": "Major",
        "summary": "NPE in FSDownload.verify()",
        "description": "stack trace here",
        "reporter": "alice",
        "components": ["yarn"],
        "affects_versions": ["3.3.1"],
        "labels": [],
        "status": "Open",
        "created": T0,
        "webhook_event": "jira:issue_created",
    }


@pytest.fixture
def document() -> dict[str, Any]:
    """A document_uploaded v1 event (strict type, late events quarantined)."""
    return {
        "event_id": "doc-1",
        "event_type": "document_uploaded",
        "schema_version": 1,
        "occurred_at": T0,
        "entity_id": "doc-1",
        "sequence": 3,
        "source": "gateway",
        "document_id": "d" * 16,
        "uploader_id": "u-42",
        "file_name": "invoice.pdf",
        "mime_type": "application/pdf",
        "detected_mime_type": "application/pdf",
        "size_bytes": 120_000,
        "page_count": 2,
        "sha256": "a" * 64,
        "upload_status": "ok",
        "status_reason": None,
        "storage_uri": "s3://bucket/doc-1",
    }


@pytest.fixture
def decoder(schema_store: SchemaStore, pipelines: PipelinesConfig, settings: Settings) -> Decoder:
    return Decoder(schema_store, pipelines, settings.processing)


@pytest.fixture
def validator(schema_store: SchemaStore, pipelines: PipelinesConfig, settings: Settings) -> Validator:
    return Validator(schema_store, pipelines, settings.processing)
