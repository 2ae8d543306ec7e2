"""Jira webhooks through the real gateway process into a real processor: scored once, retries
dropped as duplicates, forged and unsigned calls refused, other webhook events ignored."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from helpers.jira_webhook import encode, issue_created
from helpers.kafka import wait_for
from processor.audit import audit, read_topic
from processor.config import Settings
from processor.ingest.auth import sign
from processor.serializers.outputs import decode_json_output

from .conftest import WEBHOOK_SECRET, Gateway


def _post(gateway: Gateway, body: bytes, signature: str | None) -> Any:
    headers = {"Content-Type": "application/json; charset=UTF-8"}
    if signature is not None:
        headers["X-Hub-Signature"] = signature
    return gateway.client.post("/v1/webhooks/jira", content=body, headers=headers)


def _outputs(settings: Settings) -> dict[str, list[dict[str, Any]]]:
    t = settings.topics
    return {
        name: [decode_json_output(m.value()) for m in read_topic(settings, topic, idle_s=0.5)]
        for name, topic in (("scored", t.scored), ("review", t.review), ("quarantine", t.quarantine))
    }


def test_a_real_jira_webhook_is_scored_once_and_forgeries_are_refused(
    gateway_process: Callable[..., Gateway],
    processor_factory: Callable[..., Any],
    trained_models: Path,
    tmp_path: Path,
) -> None:
    gateway = gateway_process(models_dir=trained_models)
    settings = gateway.settings
    secret = WEBHOOK_SECRET.encode()
    now = int(time.time() * 1000)
    issue_id = str(random.randrange(10_000_000, 99_999_999))
    body = encode(issue_created(issue_id=issue_id, key=f"HDFS-{issue_id[:5]}", timestamp=now))

    first = _post(gateway, body, sign(secret, body))
    assert first.status_code == 202, first.text
    event_id = first.json()["event_id"]
    retry = _post(gateway, body, sign(secret, body))  # Jira redelivers the same body
    assert retry.status_code == 202
    assert retry.json()["event_id"] == event_id

    forged = _post(gateway, body, sign(b"guessed-secret", body))
    assert forged.status_code == 401
    assert forged.json()["error"]["code"] == "signature_mismatch"
    unsigned = _post(gateway, body, None)
    assert (unsigned.status_code, unsigned.json()["error"]["code"]) == (401, "signature_missing")
    tampered = body.replace(b"Standby NameNode", b"Standby NameN0de")
    assert _post(gateway, tampered, sign(secret, body)).json()["error"]["code"] == "signature_mismatch"

    comment = encode({"timestamp": now, "webhookEvent": "comment_created", "comment": {"id": "1", "body": "+1"}})
    ignored = _post(gateway, comment, sign(secret, comment))
    assert ignored.status_code == 200
    assert ignored.json() == {"status": "ignored", "webhook_event": "comment_created"}

    proc = processor_factory(settings, "--max-idle", "6", log=tmp_path / "processor.log")
    # decided by the model: scored, or review when the score falls in the type's review band
    topics = (settings.topics.scored, settings.topics.review)
    assert wait_for(lambda: sum(len(read_topic(settings, t, idle_s=0.3)) for t in topics) > 0, 90)
    assert proc.wait(120) == 0, (tmp_path / "processor.log").read_text()[-3000:]

    outputs = _outputs(settings)
    decided = [r for name in ("scored", "review") for r in outputs[name] if r["event_id"] == event_id]
    assert len(decided) == 1, outputs
    assert outputs["quarantine"] == []
    decision = decided[0]
    assert decision["event_type"] == "jira_ticket_created"
    assert decision["entity_id"] == f"HDFS-{issue_id[:5]}"
    assert decision["decision_source"] == "model"
    assert decision["score"] is not None
    assert decision["model_version"]

    report = audit(settings)
    assert report.identity_holds, report.problems()
    assert report.inputs == 2  # the original and Jira's retry; nothing from the refused calls
    assert report.duplicates_dropped == 1

    metrics = gateway.client.get("/metrics").text
    assert 'ingest_rejections_total{reason="signature_mismatch",route="/v1/webhooks/jira"} 2.0' in metrics
    assert 'ingest_rejections_total{reason="signature_missing",route="/v1/webhooks/jira"} 1.0' in metrics
    assert 'ingest_webhooks_ignored_total{webhook_event="comment_created"} 1.0' in metrics
    assert 'ingest_events_accepted_total{event_type="jira_ticket_created"} 2.0' in metrics
    assert "ingest_produce_seconds_count 2.0" in metrics
