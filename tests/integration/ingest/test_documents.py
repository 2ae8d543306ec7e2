"""Document uploads through the gateway into a real processor: a good PDF is stored and scored;
a truncated one is recorded as truncated, refused to the client, and flagged for review."""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pypdf import PdfWriter

from helpers.kafka import wait_for
from processor.audit import audit, read_topic
from processor.serializers.outputs import decode_json_output

from .conftest import Gateway


def _pdf(pages: int) -> bytes:
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(595, 842)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _upload(gateway: Gateway, name: str, data: bytes, **form: str) -> Any:
    return gateway.client.post(
        "/v1/documents",
        headers=gateway.auth,
        data={"uploader_id": "uploader-42", **form},
        files={"file": (name, data, "application/pdf")},
    )


def test_uploads_are_inspected_recorded_and_routed(
    gateway_factory: Callable[..., Gateway],
    processor_factory: Callable[..., Any],
    trained_models: Path,
    tmp_path: Path,
) -> None:
    gateway = gateway_factory(models_dir=trained_models)
    settings = gateway.settings
    good = _pdf(5)
    cut = good[: len(good) // 2]

    ok = _upload(gateway, "contract.pdf", good, sha256=hashlib.sha256(good).hexdigest(), size_bytes=str(len(good)))
    assert ok.status_code == 202, ok.text
    answer = ok.json()
    assert (answer["upload_status"], answer["page_count"], answer["detected_mime_type"]) == ("ok", 5, "application/pdf")
    assert answer["stored"] is True and "storage_uri" not in answer  # no server path to the client
    digest = hashlib.sha256(good).hexdigest()
    stored = settings.ingest.upload_dir / digest[:2] / digest
    assert stored.read_bytes() == good

    truncated = _upload(gateway, "scan.pdf", cut)
    assert truncated.status_code == 422, truncated.text
    refused = truncated.json()
    assert refused["error"]["code"] == "document_truncated"
    assert refused["recorded"] is True
    assert refused["upload_status"] == "truncated"
    assert refused["stored"] is False  # partial bytes are not kept as if they were the document

    mismatch = _upload(gateway, "claimed.pdf", good, sha256="0" * 64)
    assert mismatch.status_code == 422
    assert mismatch.json()["error"]["code"] == "document_corrupt"

    # a client retry with the same Idempotency-Key is the same event
    key = {"Idempotency-Key": "upload-7f3a"}
    again = [
        gateway.client.post(
            "/v1/documents",
            headers={**gateway.auth, **key},
            data={"uploader_id": "uploader-42"},
            files={"file": ("memo.pdf", _pdf(2), "application/pdf")},
        ).json()["event_id"]
        for _ in range(2)
    ]
    assert again[0] == again[1]

    proc = processor_factory(settings, "--max-idle", "6", log=tmp_path / "processor.log")
    assert wait_for(lambda: len(read_topic(settings, settings.topics.review, idle_s=0.3)) > 0, 90)
    assert proc.wait(120) == 0, (tmp_path / "processor.log").read_text()[-3000:]

    t = settings.topics
    decided = {
        record["event_id"]: (name, record)
        for name, topic in (("scored", t.scored), ("review", t.review))
        for record in (decode_json_output(m.value()) for m in read_topic(settings, topic, idle_s=0.5))
    }
    assert read_topic(settings, t.quarantine, idle_s=0.5) == []
    assert answer["event_id"] in decided
    route, record = decided[refused["event_id"]]
    assert route == "review"
    assert record["review_reason"] == "rule:damaged-upload"
    event = json.loads(record["event"])
    assert event["upload_status"] == "truncated"
    assert event["status_reason"].startswith("pdf_eof_missing")
    assert decided[mismatch.json()["event_id"]][1]["review_reason"] == "rule:damaged-upload"

    report = audit(settings)
    assert report.identity_holds, report.problems()
    assert report.inputs == 5
    assert report.duplicates_dropped == 1  # the idempotent retry
