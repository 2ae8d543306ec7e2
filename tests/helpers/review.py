"""Helpers for the review integration tests: settings as environment, sample events, pipeline runs, sign-in."""

from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from helpers.kafka import produce, settings_env
from helpers.records import run_signup
from processor.audit import read_topic
from processor.config import Settings
from processor.serializers.outputs import decode_json_output

PASSWORDS = {"alice": "alice-password-1", "bob": "bob-password-22"}


def review_env(settings: Settings) -> dict[str, str]:
    review = settings.review
    env = settings_env(settings)
    env.update(
        {
            "PROCESSOR_REVIEW__HOST": review.host,
            "PROCESSOR_REVIEW__PORT": str(review.port),
            "PROCESSOR_REVIEW__REVIEWERS": orjson.dumps(
                {n: h.get_secret_value() for n, h in review.reviewers.items()}
            ).decode(),
            "PROCESSOR_REVIEW__SESSION_SECRET": review.session_secret.get_secret_value()
            if review.session_secret
            else "",
            "PROCESSOR_REVIEW__GROUP_ID": review.group_id,
            "PROCESSOR_REVIEW__TRANSACTIONAL_ID": review.effective_transactional_id(),
            "PROCESSOR_REVIEW__SLA_SECONDS": str(review.sla_seconds),
        }
    )
    return env


def signup(run: str, i: int, *, plan: str = "enterprise", **fields: Any) -> dict[str, Any]:
    """A valid user_signed_up; an enterprise plan always reaches a human (rule enterprise-manual-check)."""
    record = run_signup(run, i, int(time.time() * 1000) - 60_000 + i, plan=plan)
    record.update(fields)
    return record


def jira(run: str, i: int, **fields: Any) -> dict[str, Any]:
    """A valid jira_ticket_created; "security" in the summary always reaches a human (rule security-report)."""
    record = {
        "event_id": f"{run}-jira-{i}",
        "event_type": "jira_ticket_created",
        "schema_version": 1,
        "occurred_at": int(time.time() * 1000) - 60_000 + i,
        "entity_id": f"HADOOP-{i}",
        "sequence": None,
        "source": "jira",
        "issue_id": str(1000 + i),
        "issue_key": f"HADOOP-{i}",
        "project_key": "HADOOP",
        "issue_type": "Bug",
        "priority": "Major",
        "summary": f"security: token leak in component {i}",
        "description": "steps to reproduce",
        "reporter": "alice",
        "components": [],
        "affects_versions": ["3.3.1"],
        "labels": [],
        "status": "Open",
        "created": int(time.time() * 1000) - 60_000,
        "webhook_event": "jira:issue_created",
    }
    record.update(fields)
    return record


def new_run() -> str:
    return uuid.uuid4().hex[:8]


def run_pipeline(
    settings: Settings, records: list[dict[str, Any]], start: Callable[..., subprocess.Popen[bytes]], log: Path
) -> None:
    """Produce ``records`` to the raw topic and run the real processor until it has been idle a while."""
    produce(settings, [(r["entity_id"].encode(), orjson.dumps(r)) for r in records])
    proc = start(settings, "--max-idle", "5", log=log)
    assert proc.wait(180) == 0, log.read_text()[-3000:]


def outputs_for(settings: Settings, topic: str, event_id: str) -> list[dict[str, Any]]:
    """Committed records of ``topic`` about one event (read_committed, as downstream reads)."""
    records = [decode_json_output(m.value()) for m in read_topic(settings, topic, idle_s=1.0) if m.value() is not None]
    return [r for r in records if r.get("event_id") == event_id]


def human_decisions(settings: Settings, event_id: str) -> list[dict[str, Any]]:
    return [r for r in outputs_for(settings, settings.topics.scored, event_id) if r["decision_source"] == "human"]


def sign_in(page: Any, url: str, reviewer: str = "alice") -> None:
    page.goto(f"{url}/login")
    page.fill("input[name=reviewer]", reviewer)
    page.fill("input[name=password]", PASSWORDS[reviewer])
    page.click("button[type=submit]")
    page.wait_for_url(f"{url}/queue")
