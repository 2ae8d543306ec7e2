"""The gateway's part of ``processor demo``: run ``processor ingest serve`` beside the processor,
send it real traffic (Jira webhooks of real Hadoop tickets, a retried one, a forged one, a PDF
upload and a truncated one) and afterwards show where each event came out.
"""

from __future__ import annotations

import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from pypdf import PdfWriter

from processor.audit import read_topic
from processor.config import Settings
from processor.devtools.simulate.jira_dataset import load_tickets
from processor.devtools.simulate.jira_webhooks import issue_created_webhook
from processor.ingest.auth import hash_token, new_token, sign
from processor.serializers.outputs import decode_json_output

_WEBHOOKS = 4


@dataclass
class SentItem:
    what: str
    status: int
    answer: dict[str, Any]
    event_id: str | None = None


@dataclass
class GatewayRun:
    """A gateway subprocess and what was sent through it."""

    process: subprocess.Popen[bytes]
    url: str
    token: str
    secret: str
    log_path: Path
    sent: list[SentItem] = field(default_factory=list)

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)  # drains requests, flushes the producer
            try:
                return self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
        return self.process.wait(10)


def start_gateway(settings: Settings, work_dir: Path) -> GatewayRun:
    """``processor ingest serve`` on a free port with a fresh token and webhook secret."""
    token, secret = new_token(), new_token()
    port = _free_port()
    work_dir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.update(
        {
            "PROCESSOR_KAFKA__BOOTSTRAP_SERVERS": settings.kafka.bootstrap_servers,
            "PROCESSOR_TOPICS__RAW": settings.topics.raw,
            "PROCESSOR_INGEST__HOST": "127.0.0.1",
            "PROCESSOR_INGEST__PORT": str(port),
            "PROCESSOR_INGEST__API_TOKENS": json.dumps({"demo": hash_token(token)}),
            "PROCESSOR_INGEST__JIRA_WEBHOOK_SECRET": secret,
            "PROCESSOR_INGEST__UPLOAD_DIR": str(work_dir / "uploads"),
        }
    )
    log_path = work_dir / "gateway.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "processor", "ingest", "serve"], env=env, stdout=log, stderr=subprocess.STDOUT
        )
    run = GatewayRun(process, f"http://127.0.0.1:{port}", token, secret, log_path)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the gateway exited with {process.returncode}; see {log_path}")
        try:
            if httpx.get(f"{run.url}/readyz", timeout=2).status_code == 200:
                return run
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    run.stop()
    raise TimeoutError(f"the gateway was not ready within 60 s; see {log_path}")


def send_traffic(run: GatewayRun, seed: int) -> None:
    """Webhooks of real tickets (one delivered twice, as Jira retries), a forged one, two uploads."""
    tickets = load_tickets()
    now = int(time.time() * 1000)
    with httpx.Client(base_url=run.url, timeout=30) as client:
        for i in range(_WEBHOOKS):
            ticket = tickets[(seed + i * 397) % len(tickets)]
            body = json.dumps(issue_created_webhook(ticket, timestamp_ms=now + i)).encode()
            sends = 2 if i == 0 else 1  # the first one is retried: same body, same event id
            for attempt in range(sends):
                what = f"webhook {ticket.issue_key}" + (" (Jira's retry)" if attempt else "")
                run.sent.append(_post_webhook(client, what, body, sign(run.secret.encode(), body)))
        forged = json.dumps(issue_created_webhook(tickets[seed % len(tickets)], timestamp_ms=now)).encode()
        run.sent.append(_post_webhook(client, "webhook, forged signature", forged, sign(b"not-the-secret", forged)))
        report = _pdf(pages=3)
        run.sent.append(_upload(client, run.token, "quarterly-report.pdf", report))
        run.sent.append(_upload(client, run.token, "scan-cut-short.pdf", report[: len(report) * 2 // 3]))


def render(run: GatewayRun, settings: Settings) -> str:
    """Each request, the gateway's answer, and the processor's outcome for its event."""
    outcomes: dict[str, str] = {}
    for topic, name in ((settings.topics.scored, "scored"), (settings.topics.review, "review")):
        for message in read_topic(settings, topic, idle_s=0.5):
            record = decode_json_output(message.value() or b"{}")
            detail = f"{record.get('decision')} / {record.get('category')} via {record.get('decision_source')}"
            if record.get("review_reason"):
                detail += f" ({record['review_reason']})"
            outcomes.setdefault(str(record.get("event_id")), f"{name}: {detail}")
    lines = ["", "Through the ingestion gateway (processor ingest serve)"]
    seen: set[str] = set()
    for item in run.sent:
        answer = (
            item.answer.get("error", {}).get("code") or item.answer.get("upload_status") or item.answer.get("status")
        )
        if item.event_id is None:
            outcome = "nothing produced"
        elif item.event_id in seen:
            outcome = "same event id: dropped by the processor as a duplicate"
        else:
            outcome = outcomes.get(item.event_id, "NOT FOUND in the outputs")
        if item.event_id is not None:
            seen.add(item.event_id)
        lines.append(f"  {item.what:<40} HTTP {item.status} {answer or '':<20} -> {outcome}")
    return "\n".join(lines)


def _post_webhook(client: httpx.Client, what: str, body: bytes, signature: str) -> SentItem:
    response = client.post(
        "/v1/webhooks/jira",
        content=body,
        headers={"Content-Type": "application/json; charset=UTF-8", "X-Hub-Signature": signature},
    )
    answer = response.json()
    return SentItem(what, response.status_code, answer, answer.get("event_id"))


def _upload(client: httpx.Client, token: str, name: str, data: bytes) -> SentItem:
    response = client.post(
        "/v1/documents",
        headers={"Authorization": f"Bearer {token}"},
        data={"uploader_id": "demo-uploader-1"},
        files={"file": (name, data, "application/pdf")},
    )
    answer = response.json()
    return SentItem(f"upload {name}", response.status_code, answer, answer.get("event_id"))


def _pdf(pages: int) -> bytes:
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(612, 792)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
