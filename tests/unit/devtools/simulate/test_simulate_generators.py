"""The synthetic generators: realistic, deterministic, labelled with noisy but real correlations."""

from __future__ import annotations

import random
import re
from collections import Counter, defaultdict

import pytest

from processor.devtools.simulate.generators import DocumentUploadGenerator, GeneratedEvent, UserSignupGenerator
from processor.features.user_signed_up import DISPOSABLE_DOMAINS
from processor.serializers.schemas import SchemaStore

T0 = 1_790_000_000_000
N = 20_000


def users(seed: int = 1, n: int = N) -> list[GeneratedEvent]:
    gen = UserSignupGenerator(random.Random(seed))
    return [gen.next(T0 + i * 180) for i in range(n)]  # 20,000 sign-ups in an hour


def documents(seed: int = 1, n: int = N) -> list[GeneratedEvent]:
    gen = DocumentUploadGenerator(random.Random(seed))
    return [gen.next(T0 + i * 180) for i in range(n)]


@pytest.fixture(scope="module")
def user_events() -> list[GeneratedEvent]:
    return users()


@pytest.fixture(scope="module")
def doc_events() -> list[GeneratedEvent]:
    return documents()


def share(events: list[GeneratedEvent], label: str, predicate) -> float:  # type: ignore[no-untyped-def]
    chosen = [e.record for e in events if e.label == label]
    return sum(1 for r in chosen if predicate(r)) / len(chosen)


def test_same_seed_same_events_other_seed_other_events():
    assert [e.record for e in users(7, 500)] == [e.record for e in users(7, 500)]
    assert [e.record for e in documents(7, 500)] == [e.record for e in documents(7, 500)]
    assert [e.record for e in users(8, 50)] != [e.record for e in users(7, 50)]


def test_records_carry_exactly_their_writer_schema_fields(store: SchemaStore, user_events, doc_events):
    for event in [*user_events[:2000], *doc_events[:2000]]:
        schema = store.get(event.event_type, event.schema_version)
        assert schema is not None
        assert list(event.record) == list(schema.fields), event.record  # all fields, schema order


def test_about_eight_percent_of_signups_are_fraud(user_events):
    labels = Counter(e.label for e in user_events)
    assert set(labels) == {"fraud", "legit"}
    assert 0.06 <= labels["fraud"] / len(user_events) <= 0.10


def test_fraud_correlates_with_the_usual_signals_but_not_perfectly(user_events):
    def disposable(r):  # type: ignore[no-untyped-def]
        return r["email"].rpartition("@")[2] in DISPOSABLE_DOMAINS

    def many_digits(r):  # type: ignore[no-untyped-def]
        return sum(c.isdigit() for c in r["email"].rpartition("@")[0]) >= 4

    def mismatch(r):  # type: ignore[no-untyped-def]
        return r["ip_country"] is not None and r["ip_country"] != r["country"]

    checks = {
        "disposable": disposable,
        "many_digits": many_digits,
        "ip_mismatch": mismatch,
        "bot_or_unknown": lambda r: r["device_type"] in ("bot", "unknown"),
        "fast": lambda r: r["signup_duration_ms"] < 3_000,
        "free": lambda r: r["plan"] == "free",
    }
    for name, predicate in checks.items():
        fraud, legit = share(user_events, "fraud", predicate), share(user_events, "legit", predicate)
        assert fraud > legit, name
        assert fraud < 0.95, f"{name} alone would give fraud away"
        if name != "free":
            assert legit > 0.0, f"no legitimate user ever shows {name}: too easy"
    assert share(user_events, "fraud", disposable) > 5 * share(user_events, "legit", disposable)


def test_fraud_rings_reuse_a_few_ips_within_the_hour(user_events):
    fraud_by_ip: dict[str, list[int]] = defaultdict(list)
    for e in user_events:
        if e.label == "fraud":
            fraud_by_ip[e.record["ip_address"]].append(e.occurred_at)
    busy = [ts for ts in fraud_by_ip.values() if len(ts) >= 5 and max(ts) - min(ts) <= 3_600_000]
    assert len(busy) >= 5
    # and honest people share addresses too (offices, carrier NAT): the signal is not pure
    legit_ips = Counter(e.record["ip_address"] for e in user_events if e.label == "legit")
    assert legit_ips.most_common(1)[0][1] >= 5


def test_signups_look_real(user_events):
    records = [e.record for e in user_events]
    assert all(re.fullmatch(r"[^@\s]{1,64}@[^@\s]{1,255}\.[^@\s]{1,63}", r["email"]) for r in records)
    assert all(re.fullmatch(r"[A-Z]{2}", r["country"]) for r in records)
    assert all(r["age_years"] is None or 13 <= r["age_years"] <= 120 for r in records)
    assert all(0 <= r["signup_duration_ms"] <= 86_400_000 for r in records)
    assert {r["device_type"] for r in records} == {"desktop", "mobile", "tablet", "bot", "unknown"}
    assert {r["plan"] for r in records} == {"free", "pro", "business", "enterprise"}
    assert any(":" in r["ip_address"] for r in records)  # some IPv6
    assert 0.2 < sum(r["age_years"] is None for r in records) / len(records) < 0.45
    assert len({r["entity_id"] for r in records}) == len(records)
    assert all(r["entity_id"].startswith("u-") for r in records)


def test_a_share_of_signups_uses_schema_version_2(user_events):
    v2 = [e for e in user_events if e.schema_version == 2]
    assert 0.5 < len(v2) / len(user_events) < 0.7
    assert all("referral_code" in e.record for e in v2)
    assert all("referral_code" not in e.record for e in user_events if e.schema_version == 1)
    assert any(e.record["referral_code"] for e in v2)


def test_about_ten_percent_of_documents_are_rejected(doc_events):
    labels = Counter(e.label for e in doc_events)
    assert set(labels) == {"accept", "reject"}
    assert 0.07 <= labels["reject"] / len(doc_events) <= 0.13


def test_rejects_show_document_signals_more_often(doc_events):
    checks = {
        "mime_mismatch": lambda r: r["detected_mime_type"] not in (None, r["mime_type"]),
        "double_extension": lambda r: re.search(r"\.[a-z]{3,4}\.[a-z0-9]{2,4}$", r["file_name"]) is not None,
        "not_ok": lambda r: r["upload_status"] != "ok",
        "tiny": lambda r: r["size_bytes"] < 1_000,
        "huge": lambda r: r["size_bytes"] > 50_000_000,
    }
    for name, predicate in checks.items():
        assert share(doc_events, "reject", predicate) > 3 * share(doc_events, "accept", predicate), name
    assert share(doc_events, "reject", lambda r: r["detected_mime_type"] == "application/x-dosexec") > 0.02
    assert share(doc_events, "reject", lambda r: r["page_count"] == 0) > 0.0


def test_uploaders_upload_several_documents_in_sequence(doc_events):
    sequences: dict[str, list[int]] = defaultdict(list)
    for e in doc_events:
        assert e.entity_id == e.record["uploader_id"]
        sequences[e.entity_id].append(e.record["sequence"])
    assert all(seq == list(range(1, len(seq) + 1)) for seq in sequences.values())
    sizes = Counter(len(s) for s in sequences.values())
    assert sum(n for k, n in sizes.items() if k >= 2) > 0.3 * len(sequences)
    assert max(len(s) for s in sequences.values()) >= 8  # bursty uploaders


def test_documents_look_real(doc_events):
    for e in doc_events:
        r = e.record
        assert re.fullmatch(r"[0-9a-f]{64}", r["sha256"])
        assert 0 <= r["size_bytes"] <= 104_857_600
        assert r["page_count"] is None or 0 <= r["page_count"] <= 100_000
        assert r["upload_status"] in ("ok", "corrupt", "truncated")
        assert (r["status_reason"] is None) == (r["upload_status"] == "ok")
        assert len(r["file_name"]) <= 255
        assert r["document_id"] == "doc_" + r["sha256"][:24]
        if r["page_count"] is not None:  # only PDFs that parsed have pages
            assert r["detected_mime_type"] == "application/pdf"
    assert any(e.record["file_name"].endswith(".pdf.exe") for e in doc_events)
    assert any("\u202e" in e.record["file_name"] for e in doc_events)


def test_pairs_are_consecutive_uploads_of_one_uploader():
    gen = DocumentUploadGenerator(random.Random(3))
    for _ in range(50):
        gen.next(T0)
    first, second = gen.next_pair(T0 + 1_000, T0 + 2_500)
    assert first.entity_id == second.entity_id
    assert second.record["sequence"] == first.record["sequence"] + 1
    assert (first.occurred_at, second.occurred_at) == (T0 + 1_000, T0 + 2_500)
    later = [gen.next(T0 + 3_000) for _ in range(200)]
    assert first.entity_id not in {e.entity_id for e in later}  # the pair ended that session
