"""A hand-written hostile event mix with the outcome each message must have.

Written independently of processor.devtools.simulate, so the integration tests check the processor
against a second producer, not against the generator that shares its assumptions.
"""

from __future__ import annotations

import json
import socket
from dataclasses import dataclass
from typing import Any

from helpers.records import run_signup
from processor.serializers.avro import encode_single_object
from processor.serializers.schemas import SchemaStore


@dataclass(frozen=True)
class Case:
    key: bytes | None
    value: bytes | None
    expect: str  # decided | duplicate | late_decided | quarantine
    stage: str | None = None
    code: str | None = None
    event_id: str | None = None


def _document(i: int, t: int, run: str, uploader: int, seq: int) -> dict[str, Any]:
    return {
        "event_id": f"{run}-doc-{i}",
        "event_type": "document_uploaded",
        "schema_version": 1,
        "occurred_at": t,
        "entity_id": f"{run}-uploader-{uploader}",
        "sequence": seq,
        "source": "gateway",
        "document_id": f"d{i}",
        "uploader_id": f"{run}-uploader-{uploader}",
        "file_name": f"report-{i}.pdf",
        "mime_type": "application/pdf",
        "detected_mime_type": "application/pdf",
        "size_bytes": 10_000 + i,
        "page_count": 3,
        "sha256": f"{i:064x}",
        "upload_status": "ok",
        "status_reason": None,
        "storage_uri": None,
    }


def _jira(i: int, t: int, run: str) -> dict[str, Any]:
    return {
        "event_id": f"{run}-jira-{i}",
        "event_type": "jira_ticket_created",
        "schema_version": 1,
        "occurred_at": t,
        "entity_id": f"HADOOP-{i}",
        "sequence": None,
        "source": "jira",
        "issue_id": str(1000 + i),
        "issue_key": f"HADOOP-{i}",
        "project_key": "HADOOP",
        "issue_type": "Bug",
        "priority": "Major",
        "summary": f"NPE in component {i}",
        "description": "<script>alert(1)</script> \u202e evil \u0000",
        "reporter": "alice",
        "components": [],
        "affects_versions": ["3.3.1"],
        "labels": [],
        "status": "Open",
        "created": t,
        "webhook_event": "jira:issue_created",
    }


def _j(record: dict[str, Any]) -> bytes:
    return json.dumps(record).encode()


def hostile_mix(now_ms: int, run: str, schemas: SchemaStore) -> list[Case]:
    """About 200 messages: valid JSON and Avro events of three types, and every kind of bad input."""
    cases: list[Case] = []
    t0 = now_ms - 600_000

    def ok(record: dict[str, Any], value: bytes | None = None, expect: str = "decided") -> None:
        cases.append(Case(record["entity_id"].encode(), value or _j(record), expect, event_id=record["event_id"]))

    def bad(record_or_value: dict[str, Any] | bytes | None, stage: str, code: str, key: bytes = b"k") -> None:
        value = _j(record_or_value) if isinstance(record_or_value, dict) else record_or_value
        cases.append(Case(key, value, "quarantine", stage, code))

    # valid sign-ups, some as Avro (v1 and v2 writer schemas)
    for i in range(40):
        rec = run_signup(run, i, t0 + i * 1000)
        if i % 4 == 0:
            rec.pop("referral_code")
            rec["schema_version"] = 1
            ok(rec, encode_single_object(schemas.get("user_signed_up", 1), rec))  # type: ignore[arg-type]
        elif i % 4 == 1:
            ok(rec, encode_single_object(schemas.latest("user_signed_up"), rec))
        else:
            ok(rec)
    # documents: 5 uploaders x 6 docs, emitted out of order inside the lateness window
    i = 100
    for uploader in range(5):
        docs = [_document(i + s, t0 + 60_000 + s * 300, run, uploader, s) for s in range(6)]
        i += 6
        for idx in (1, 0, 3, 2, 5, 4):
            ok(docs[idx])
    # jira tickets, with hostile text
    for j in range(20):
        ok(_jira(j, t0 + 120_000 + j * 500, run))
    # duplicates: exact byte copies, later
    dup_source = [c for c in cases if c.expect == "decided"][:10]
    for c in dup_source:
        cases.append(Case(c.key, c.value, "duplicate", event_id=c.event_id))
    # tolerant coercion: numbers as strings in the tolerant type
    coerced = run_signup(run, 900, t0 + 200_000)
    coerced["age_years"] = "41"
    coerced["signup_duration_ms"] = "12000"
    coerced["extra_unknown_field"] = "dropped"
    ok(coerced)
    # late: far behind the watermark once the stream has moved on (flag policy for sign-ups,
    # quarantine policy for documents). Watermarks are per partition and type, so each late event
    # reuses the key of an entity seen earlier: its partition has released that type before.
    late_signup = run_signup(run, 950, t0 - 300_000)
    late_signup["entity_id"] = f"{run}-user-2"
    ok(late_signup, expect="late_decided")
    late_doc = _document(960, t0 - 300_000, run, 0, 99)
    bad(late_doc, "late", "behind_watermark", key=late_doc["entity_id"].encode())
    # decode failures
    bad(None, "decode", "tombstone")
    bad(b"\xff\xfe\x00garbage", "decode", "invalid_utf8")
    bad(b'{"event_id": "x", ', "decode", "invalid_json")
    bad(b"[1, 2, 3]", "decode", "not_an_object")
    bad(b'"just a string"', "decode", "not_an_object")
    bad(b'{"a":' * 200 + b"1" + b"}" * 200, "decode", "too_deeply_nested")
    bad(b'{"event_id": "n", "x": NaN}', "decode", "non_finite_number")
    bad(b'{"event_id": "n", "x": -Infinity}', "decode", "non_finite_number")
    big = _jira(990, t0, run)
    big["description"] = "x" * 1_100_000
    bad(big, "decode", "oversized")
    avro = encode_single_object(schemas.latest("user_signed_up"), run_signup(run, 991, t0))
    bad(b"\xc3\x01" + b"\x00" * 8 + avro[10:], "decode", "unknown_schema_fingerprint")
    bad(avro[: len(avro) // 2], "decode", "avro_truncated")
    bad(b"\x00\x00\x00\x00\x01rest", "decode", "schema_registry_not_configured")
    # envelope and schema failures
    for name in ("event_id", "entity_id", "occurred_at", "event_type"):
        rec = _document(992, t0, run, 1, 1)
        rec["event_id"] = f"{run}-missing-{name}"
        del rec[name]
        bad(rec, "schema", "missing_envelope_field")
    unknown = run_signup(run, 993, t0)
    unknown["event_type"] = "alien_landed"
    bad(unknown, "schema", "unknown_event_type")
    wrong = _document(994, t0, run, 1, 1)
    wrong["size_bytes"] = "lots"
    bad(wrong, "schema", "wrong_type")
    missing = _jira(995, t0, run)
    del missing["summary"]
    bad(missing, "schema", "missing_field")
    extra = _jira(996, t0, run)
    extra["surprise"] = 1
    bad(extra, "schema", "unknown_field")
    # semantic failures
    age = run_signup(run, 997, t0)
    age["age_years"] = 500
    bad(age, "semantic", "out_of_range")
    neg = _document(998, t0, run, 1, 1)
    neg["size_bytes"] = -5
    bad(neg, "semantic", "out_of_range")
    sha = _document(999, t0, run, 1, 1)
    sha["sha256"] = "not-a-hash"
    bad(sha, "semantic", "bad_format")
    future = run_signup(run, 1000, now_ms + 10 * 86_400_000)
    bad(future, "semantic", "occurred_at_in_future")
    old = run_signup(run, 1001, 1_000_000)
    bad(old, "semantic", "occurred_at_out_of_range")
    return cases


def half_sent_requests(host: str, port: int, count: int, request: bytes) -> list[socket.socket]:
    """``count`` connections that each send the first part of a request and then nothing more."""
    sockets = []
    for _ in range(count):
        sock = socket.create_connection((host, port), timeout=5)
        sock.sendall(request)
        sockets.append(sock)
    return sockets


def still_open(sockets: list[socket.socket]) -> int:
    """How many of ``sockets`` the server has not closed (a closed one reads EOF or a reset)."""
    open_ = 0
    for sock in sockets:
        sock.setblocking(False)
        try:
            data = sock.recv(65_536)
        except BlockingIOError:
            open_ += 1  # nothing to read and no EOF: the server still holds it
            continue
        except OSError:
            continue  # reset
        if data:  # an answer (a 400, say) then EOF: the server ended it
            continue
    return open_
