"""Jira webhook bodies to jira_ticket_created events that the processor's own stages accept."""

from __future__ import annotations

import time
from typing import Any

import orjson
import pytest

from helpers.jira_webhook import issue_created
from processor.config import PROJECT_ROOT, ProcessingSettings, load_pipelines
from processor.ingest.jira import map_issue_created, webhook_event
from processor.ingest.rejections import Rejection
from processor.messages import RawMessage
from processor.serializers.schemas import SchemaStore
from processor.stages.decode import Decoder
from processor.stages.validate import Validator

ALIASES = {"Highest": "Blocker", "Medium": "Major"}


def _map(body: dict[str, Any]) -> dict[str, Any]:
    event = map_issue_created(body, priority_aliases=ALIASES, max_bytes=1_000_000)
    record: dict[str, Any] = orjson.loads(event.value)
    assert (event.event_id, event.entity_id, event.event_type) == (
        record["event_id"],
        record["entity_id"],
        record["event_type"],
    )
    return record


def test_the_sample_maps_field_by_field() -> None:
    record = _map(issue_created())
    assert record["event_type"] == "jira_ticket_created"
    assert record["entity_id"] == record["issue_key"] == "HDFS-16420"
    assert record["issue_id"] == "13401234"
    assert record["project_key"] == "HDFS"
    assert record["issue_type"] == "Bug"
    assert record["priority"] == "Major"
    assert record["summary"].startswith("Standby NameNode crashes")
    assert "FSEditLogLoader" in record["description"]
    assert record["reporter"] == "jdoe"
    assert record["components"] == ["namenode"]
    assert record["affects_versions"] == ["3.3.1"]
    assert record["labels"] == ["pull-request-available"]
    assert record["status"] == "Open"
    assert record["occurred_at"] == 1_764_000_000_123  # the webhook's timestamp
    assert record["created"] == 1_764_000_000_123  # 2025-11-24T16:00:00.123+0000
    assert record["webhook_event"] == "jira:issue_created"
    assert record["source"] == "jira"


def test_the_mapped_event_passes_the_processors_decode_and_validate() -> None:
    now = int(time.time() * 1000)
    event = map_issue_created(issue_created(timestamp=now), priority_aliases=ALIASES, max_bytes=1_000_000)
    schemas = SchemaStore(PROJECT_ROOT / "schemas")
    pipelines = load_pipelines(PROJECT_ROOT / "config" / "pipelines.yaml")
    settings = ProcessingSettings()
    raw = RawMessage(
        topic="t", partition=0, offset=0, key=event.entity_id.encode(), value=event.value, headers=(), timestamp_ms=now
    )
    decoded, rejected = Decoder(schemas, pipelines, settings).decode_batch([raw])
    assert rejected == []
    valid, rejected = Validator(schemas, pipelines, settings).validate_batch(decoded, now)
    assert rejected == [], [r.error for r in rejected]
    assert valid[0].event_id == event.event_id


def test_a_retry_maps_to_the_same_event_id_and_another_delivery_does_not() -> None:
    first = _map(issue_created())
    assert _map(issue_created())["event_id"] == first["event_id"]
    assert _map(issue_created(timestamp=1_764_000_999_000))["event_id"] != first["event_id"]
    assert _map(issue_created(issue_id="13401235"))["event_id"] != first["event_id"]


def test_cloud_shapes_account_ids_adf_descriptions_and_priority_aliases() -> None:
    adf = {
        "type": "doc",
        "version": 1,
        "content": [
            {"type": "paragraph", "content": [{"type": "text", "text": "Disk fills up"}, {"type": "hardBreak"}]},
            {"type": "paragraph", "content": [{"type": "text", "text": "on every DataNode."}]},
        ],
    }
    record = _map(
        issue_created(
            description=adf,
            reporter={"accountId": "5b10ac8d82e05b22cc7d4ef5", "displayName": "Jane"},
            priority={"name": "Highest", "id": "1"},
        )
    )
    assert record["description"] == "Disk fills up\n\non every DataNode."
    assert record["reporter"] == "5b10ac8d82e05b22cc7d4ef5"
    assert record["priority"] == "Blocker"


def test_no_webhook_timestamp_falls_back_to_created() -> None:
    body = issue_created()
    del body["timestamp"]
    assert _map(body)["occurred_at"] == 1_764_000_000_123


@pytest.mark.parametrize(
    ("mutate", "code", "field"),
    [
        (lambda b: b.pop("issue"), "missing_field", "issue"),
        (lambda b: b["issue"].update(id="HDFS-1"), "invalid_issue_id", "issue.id"),
        (lambda b: b["issue"]["fields"].pop("summary"), "missing_field", "issue.fields.summary"),
        (lambda b: b["issue"]["fields"].update(priority=None), "missing_field", "issue.fields.priority"),
        (lambda b: b["issue"]["fields"].update(created="24/Nov/25 16:00"), "wrong_type", "issue.fields.created"),
        (lambda b: b.update(timestamp="soon"), "wrong_type", "timestamp"),
        (lambda b: b["issue"]["fields"].update(components="namenode"), "wrong_type", "issue.fields.components"),
    ],
)
def test_bodies_that_cannot_map_are_422_naming_the_field(mutate: Any, code: str, field: str) -> None:
    body = issue_created()
    mutate(body)
    with pytest.raises(Rejection) as info:
        _map(body)
    assert (info.value.status, info.value.code, info.value.field) == (422, code, field)


def test_webhook_event_name() -> None:
    assert webhook_event(issue_created()) == "jira:issue_created"
    assert webhook_event({"webhookEvent": "comment_created"}) == "comment_created"
    assert webhook_event([1]) is None
    assert webhook_event({"webhookEvent": 3}) is None
