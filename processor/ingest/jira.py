"""A Jira ``jira:issue_created`` webhook body, as Jira sends it, mapped to ``jira_ticket_created``.

The mapping reads what both Jira Data Center/Server and Jira Cloud send: ``issue.fields`` with
objects for project, issue type, priority, status, reporter, components and versions; a
``description`` that is wiki markup (or, from REST v3 style payloads, an Atlassian Document
Format tree whose text is extracted); ``created`` like ``2024-03-01T10:22:31.000+0000``.

The event id is a UUID5 of the Jira site, the issue id and the webhook's ``timestamp``: Jira
retries a delivery with the same body, so a retry maps to the same id and the processor drops it
as a duplicate.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import orjson

from processor.envelope import rfc3339_ms
from processor.ingest.envelope import CheckedEvent
from processor.ingest.rejections import Rejection

EVENT_TYPE = "jira_ticket_created"
ISSUE_CREATED = "jira:issue_created"
SOURCE = "jira"
_NAMESPACE = uuid.UUID("2b7e59c4-0d1a-5c3f-8e61-9a4f7d2c1b08")
_JIRA_OFFSET = re.compile(r"([+-]\d{2})(\d{2})$")  # Jira writes +0000, RFC 3339 wants +00:00
#: An ADF tree deeper than this is not a description anyone wrote.
_MAX_ADF_DEPTH = 64


def webhook_event(body: Any) -> str | None:
    if isinstance(body, dict):
        name = body.get("webhookEvent")
        if isinstance(name, str):
            return name
    return None


def event_id_for(site: str, issue_id: str, timestamp_ms: int) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"{site}|{issue_id}|{timestamp_ms}"))


def sent_at_ms(event: CheckedEvent) -> int:
    """The time a mapped webhook was sent (its ``occurred_at``: the webhook's timestamp)."""
    return int(orjson.loads(event.value)["occurred_at"])


def map_issue_created(body: Mapping[str, Any], *, priority_aliases: Mapping[str, str], max_bytes: int) -> CheckedEvent:
    """The ``jira_ticket_created`` event of one webhook body; raises ``Rejection`` (422) naming the field."""
    issue = _object(body, "issue", "issue")
    fields = _object(issue, "fields", "issue.fields")
    issue_id = _text(issue, "id", "issue.id")
    if not issue_id.isdigit():
        raise Rejection(
            422, "invalid_issue_id", f"issue.id {issue_id[:40]!r} is not Jira's numeric id", field="issue.id"
        )
    issue_key = _text(issue, "key", "issue.key")
    created = _jira_time(fields.get("created"), "issue.fields.created")
    timestamp = body.get("timestamp")
    if timestamp is None:
        timestamp = created
    elif not isinstance(timestamp, int) or isinstance(timestamp, bool) or timestamp <= 0:
        raise Rejection(422, "wrong_type", "timestamp must be epoch milliseconds", field="timestamp")
    priority = _name(fields, "priority", "issue.fields.priority")
    event_id = event_id_for(_site(issue), issue_id, timestamp)
    record = {
        "event_id": event_id,
        "event_type": EVENT_TYPE,
        "schema_version": 1,
        "occurred_at": timestamp,
        "entity_id": issue_key,
        "sequence": None,
        "source": SOURCE,
        "issue_id": issue_id,
        "issue_key": issue_key,
        "project_key": _text(_object(fields, "project", "issue.fields.project"), "key", "issue.fields.project.key"),
        "issue_type": _name(fields, "issuetype", "issue.fields.issuetype"),
        "priority": priority_aliases.get(priority, priority),
        "summary": _text(fields, "summary", "issue.fields.summary"),
        "description": _description(fields.get("description")),
        "reporter": _person(fields.get("reporter")) or _person(body.get("user")) or "unknown",
        "components": _names(fields.get("components"), "issue.fields.components"),
        "affects_versions": _names(fields.get("versions"), "issue.fields.versions"),
        "labels": _labels(fields.get("labels")),
        "status": _optional_name(fields.get("status")) or "Open",
        "created": created,
        "webhook_event": ISSUE_CREATED,
    }
    value = orjson.dumps(record)
    if len(value) > max_bytes:
        raise Rejection(413, "event_too_large", f"mapped event is {len(value):,} bytes, over {max_bytes:,}")
    return CheckedEvent(event_id=event_id, event_type=EVENT_TYPE, entity_id=issue_key, value=value)


def _object(parent: Mapping[str, Any], name: str, path: str) -> Mapping[str, Any]:
    value = parent.get(name)
    if not isinstance(value, dict):
        code = "missing_field" if value is None else "wrong_type"
        raise Rejection(422, code, f"{path} must be an object", field=path)
    return value


def _text(parent: Mapping[str, Any], name: str, path: str) -> str:
    value = parent.get(name)
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)  # some Jira versions send numeric ids as numbers
    if not isinstance(value, str) or not value.strip():
        code = "missing_field" if value is None else "wrong_type"
        raise Rejection(422, code, f"{path} must be a non-empty string", field=path)
    return value


def _name(fields: Mapping[str, Any], name: str, path: str) -> str:
    return _text(_object(fields, name, path), "name", f"{path}.name")


def _optional_name(value: Any) -> str | None:
    if isinstance(value, dict) and isinstance(value.get("name"), str):
        return str(value["name"])
    return None


def _person(value: Any) -> str | None:
    """Data Center sends ``name``; Cloud sends only ``accountId`` (names are gone for privacy)."""
    if not isinstance(value, dict):
        return None
    for key in ("name", "accountId", "key"):
        if isinstance(value.get(key), str) and value[key]:
            return str(value[key])
    return None


def _names(value: Any, path: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise Rejection(422, "wrong_type", f"{path} must be an array", field=path)
    return [str(item["name"]) for item in value if isinstance(item, dict) and isinstance(item.get("name"), str)]


def _labels(value: Any) -> list[str]:
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, str)]


def _jira_time(value: Any, path: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        parsed = rfc3339_ms(_JIRA_OFFSET.sub(r"\1:\2", value.strip()))
        if parsed is not None:
            return parsed
    raise Rejection(422, "wrong_type", f"{path} must be a Jira timestamp like 2024-03-01T10:22:31.000+0000", field=path)


def _description(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value or None
    if isinstance(value, dict):  # Atlassian Document Format: keep the words, drop the layout
        parts: list[str] = []
        _adf_text(value, parts, 0)
        return "".join(parts).strip() or None
    raise Rejection(
        422, "wrong_type", "issue.fields.description must be text or a document", field="issue.fields.description"
    )


def _adf_text(node: Any, parts: list[str], level: int) -> None:
    if level > _MAX_ADF_DEPTH or not isinstance(node, dict):
        return
    if node.get("type") == "text" and isinstance(node.get("text"), str):
        parts.append(node["text"])
    elif node.get("type") == "hardBreak":
        parts.append("\n")
    for child in node.get("content") or ():
        _adf_text(child, parts, level + 1)
    if node.get("type") in ("paragraph", "heading", "codeBlock", "listItem"):
        parts.append("\n")


def _site(issue: Mapping[str, Any]) -> str:
    """The Jira site an issue lives on (from its ``self`` URL): issue ids are unique per site only."""
    url = issue.get("self")
    if isinstance(url, str):
        try:
            parts = urlsplit(url)
        except ValueError:  # "http://[invalid": urlsplit refuses the bracketed host
            raise Rejection(422, "invalid_issue_self", "issue.self is not a URL", field="issue.self") from None
        if parts.netloc:
            return parts.netloc.lower()
    return "jira"
