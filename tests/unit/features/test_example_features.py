"""Feature modules: contract (length, finite-or-NaN floats, names), and the values that matter."""

from __future__ import annotations

import math
from typing import Any

import pytest

from helpers.records import HOUR, T0
from processor.config import PROJECT_ROOT
from processor.features import HistoryCounter, load_feature_module
from processor.serializers.schemas import SchemaStore

MODULES = ("user_signed_up", "jira_ticket_created", "document_uploaded")


def _vector(module_name: str, record: dict[str, Any], history: dict[str, int] | None = None) -> dict[str, float]:
    module = load_feature_module(module_name)
    values = module.compute(record, history or {})
    assert len(values) == len(module.FEATURE_NAMES)
    assert all(isinstance(v, float) for v in values)
    assert all(math.isfinite(v) or math.isnan(v) for v in values)
    return dict(zip(module.FEATURE_NAMES, values, strict=True))


@pytest.mark.parametrize("name", MODULES)
def test_module_contract(name: str) -> None:
    module = load_feature_module(name)
    assert len(set(module.FEATURE_NAMES)) == len(module.FEATURE_NAMES)
    for counter in module.HISTORY:
        assert isinstance(counter, HistoryCounter)
        assert counter.name in module.FEATURE_NAMES
        assert counter.window_ms > 0
    # History keys must be real fields of the latest schema: serving reads them off the record.
    schema = SchemaStore(PROJECT_ROOT / "schemas").latest(name)
    assert {c.key_field for c in module.HISTORY} <= set(schema.fields)


@pytest.mark.parametrize("fixture", ["signup", "jira", "document"])
def test_sample_records_have_every_schema_field(fixture: str, request: pytest.FixtureRequest) -> None:
    record = request.getfixturevalue(fixture)
    schema = SchemaStore(PROJECT_ROOT / "schemas").latest(record["event_type"])
    assert set(record) == set(schema.fields)


@pytest.mark.parametrize(
    ("name", "fixture"),
    [
        ("user_signed_up", "signup"),
        ("jira_ticket_created", "jira"),
        ("document_uploaded", "document"),
    ],
)
def test_vectors_on_full_and_sparse_records(name: str, fixture: str, request: pytest.FixtureRequest) -> None:
    record: dict[str, Any] = request.getfixturevalue(fixture)
    full = _vector(name, record)
    assert not any(math.isnan(full[c.name]) for c in load_feature_module(name).HISTORY)
    # Every optional field null and every string empty: still a vector, NaN where unknown.
    sparse = {k: (None if not isinstance(v, str | list) else type(v)()) for k, v in record.items()}
    sparse["occurred_at"] = record["occurred_at"]
    _vector(name, sparse)
    # Even a record missing fields entirely (a module must never raise on a surprise).
    _vector(name, {"occurred_at": record["occurred_at"]})


def test_compute_is_deterministic(signup: dict[str, Any]) -> None:
    module = load_feature_module("user_signed_up")
    first = module.compute(signup, {"signups_same_ip_1h": 2})
    second = module.compute(dict(signup), {"signups_same_ip_1h": 2})
    assert [repr(v) for v in first] == [repr(v) for v in second]


def test_user_signed_up_values(signup: dict[str, Any]) -> None:
    signup["occurred_at"] = T0 + 13 * HOUR + 5  # 13:00 UTC
    f = _vector("user_signed_up", signup, {"signups_same_ip_1h": 3, "signups_same_ip_24h": 7})
    assert f["email_disposable_domain"] == 1.0
    assert f["email_free_provider"] == 0.0
    assert f["email_local_length"] == len("john.doe1984")
    assert f["email_local_digits"] == 4.0
    assert f["email_verified"] == 0.0
    assert f["ip_country_mismatch"] == 1.0
    assert f["device_type_code"] == 0.0
    assert f["plan_code"] == 1.0
    assert f["marketing_source_code"] == 9.0  # unknown channel: the fixed "other" code, not NaN
    assert f["has_referral_code"] == 1.0
    assert f["age_years"] == 34.0
    assert f["log_signup_duration_ms"] == pytest.approx(math.log1p(1500))
    assert f["user_agent_automation"] == 1.0  # HeadlessChrome
    assert f["hour_of_day_utc"] == 13.0
    assert (f["signups_same_ip_1h"], f["signups_same_ip_24h"], f["signups_same_country_1h"]) == (3.0, 7.0, 0.0)

    other = dict(signup, email="Ann@sub.Mailinator.com", ip_country=None, marketing_source=None)
    g = _vector("user_signed_up", other)
    assert g["email_disposable_domain"] == 1.0  # subdomains of a throwaway provider count
    assert math.isnan(g["ip_country_mismatch"])
    assert math.isnan(g["marketing_source_code"])
    h = _vector("user_signed_up", dict(signup, email="ann@gmail.com", user_agent="Mozilla/5.0 Safari"))
    assert (h["email_disposable_domain"], h["email_free_provider"], h["user_agent_automation"]) == (0.0, 1.0, 0.0)


def test_jira_values(jira: dict[str, Any]) -> None:
    f = _vector("jira_ticket_created", jira, {"tickets_same_reporter_30d": 4})
    assert f["summary_question_marks"] == 1.0
    assert f["description_missing"] == 0.0
    assert f["has_stack_trace"] == 1.0
    assert f["has_code_block"] == 1.0
    assert f["has_url"] == 1.0
    assert f["affects_versions_count"] == 2.0
    assert f["priority_code"] == 2.0
    assert f["issue_type_code"] == 0.0
    assert (f["kw_npe"], f["kw_flaky"], f["kw_test"], f["kw_typo"], f["kw_cve"]) == (1.0, 1.0, 1.0, 0.0, 0.0)
    assert f["tickets_same_reporter_30d"] == 4.0

    bare = dict(jira, summary="Typo in docs", description=None, affects_versions=[], priority="Trivial")
    g = _vector("jira_ticket_created", bare)
    assert g["description_missing"] == 1.0
    assert math.isnan(g["log_description_length"])
    assert (g["has_stack_trace"], g["has_code_block"], g["has_url"]) == (0.0, 0.0, 0.0)
    assert (g["kw_typo"], g["kw_doc"], g["kw_npe"]) == (1.0, 1.0, 0.0)
    assert g["priority_code"] == 4.0


def test_jira_patterns_stay_fast_on_hostile_text(jira: dict[str, Any]) -> None:
    """Descriptions reach 200,000 characters: no pattern may go quadratic on them."""
    import time

    module = load_feature_module("jira_ticket_created")
    for body in ("a" * 200_000, " \n" * 100_000, "at " * 66_000, "x(" * 100_000):
        started = time.perf_counter()
        module.compute(dict(jira, summary="s" * 1000, description=body), {})
        assert time.perf_counter() - started < 0.5


def test_document_values(document: dict[str, Any]) -> None:
    f = _vector("document_uploaded", document, {"uploads_same_sha256_24h": 5})
    assert f["log_size_bytes"] == pytest.approx(math.log1p(120_000))
    assert f["page_count"] == 2.0
    assert f["log_bytes_per_page"] == pytest.approx(math.log1p(60_000))
    assert f["mime_mismatch"] == 1.0
    assert f["detected_executable"] == 1.0
    assert f["declared_executable"] == 0.0
    assert f["extension_executable"] == 1.0
    assert f["double_extension"] == 1.0
    assert math.isnan(f["extension_mime_mismatch"])  # .exe is not a document extension: no opinion
    assert f["upload_status_code"] == 0.0
    assert f["uploads_same_sha256_24h"] == 5.0

    clean = dict(
        document,
        file_name="r\u00e9sum\u00e9.pdf",
        detected_mime_type="application/pdf",
        mime_type="application/pdf; charset=binary",
        upload_status="truncated",
        page_count=None,
    )
    g = _vector("document_uploaded", clean)
    assert (g["mime_mismatch"], g["detected_executable"], g["double_extension"], g["extension_mime_mismatch"]) == (
        0.0,
        0.0,
        0.0,
        0.0,
    )
    assert g["file_name_non_ascii"] == 1.0
    assert g["upload_status_code"] == 2.0
    assert math.isnan(g["page_count"]) and math.isnan(g["log_bytes_per_page"])

    spoof = _vector("document_uploaded", dict(document, file_name="invoice\u202efdp.exe", detected_mime_type=None))
    assert spoof["file_name_bidi_control"] == 1.0
    assert spoof["detected_mime_missing"] == 1.0 and math.isnan(spoof["mime_mismatch"])
    archive = _vector("document_uploaded", dict(document, file_name="logs.tar.gz"))
    assert archive["double_extension"] == 0.0
