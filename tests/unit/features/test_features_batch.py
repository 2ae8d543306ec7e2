"""``compute_batch`` of the example feature modules gives exactly ``compute``'s rows, and the fast
text tests of ``jira_ticket_created`` answer exactly what its reference patterns answer."""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson
import pytest

from processor.devtools.simulate import FaultMix, simulate
from processor.features import jira_ticket_created
from processor.features.base import batch_compute, load_feature_module


def _records() -> list[dict[str, Any]]:
    """Simulated records of every type, faults included (wrong types, missing fields)."""
    mix = FaultMix(wrong_type=0.05, avro_share=0.0)
    out = []
    for message in simulate(3_000, seed=11, faults=mix, span_s=600.0):
        try:
            record = orjson.loads(message.value or b"")
        except orjson.JSONDecodeError:
            continue
        if isinstance(record, dict):
            out.append(record)
    return out


ODD: list[dict[str, Any]] = [
    {},
    {"email": "no-at-sign", "age_years": True, "signup_duration_ms": -5, "user_agent": "", "occurred_at": "x"},
    {"email": "@x.mailinator.com", "country": "de", "ip_country": "DE", "referral_code": "  "},
    {"size_bytes": -1, "page_count": 0, "file_name": "a.pdf.exe", "mime_type": "Application/PDF; x=y"},
    {"size_bytes": 10.5, "page_count": 3, "file_name": "\u202eexe.pdf", "detected_mime_type": "text/x-sh"},
    {"upload_status": " OK ", "file_name": "noext", "mime_type": None, "detected_mime_type": ""},
]


@pytest.mark.parametrize("name", ["user_signed_up", "document_uploaded"])
def test_compute_batch_is_compute_row_by_row(name: str) -> None:
    module = load_feature_module(name)
    batch = batch_compute(module)
    assert batch is not None
    records = [r for r in _records() if r.get("event_type") == name] + ODD
    rng = np.random.default_rng(3)
    history = {c.name: rng.integers(0, 50, size=len(records)) for c in module.HISTORY}
    expected = np.asarray(
        [module.compute(r, {k: int(v[i]) for k, v in history.items()}) for i, r in enumerate(records)],
        dtype=np.float64,
    )
    got = batch(records, history)
    assert got.shape == expected.shape == (len(records), len(module.FEATURE_NAMES))
    assert np.array_equal(got, expected, equal_nan=True)
    assert batch([], {c.name: np.zeros(0, dtype=np.int64) for c in module.HISTORY}).shape == (0, expected.shape[1])


TEXTS = [
    "",
    "NullPointerException",
    "a NullPointerExceptions b",
    "Exception",
    "xException_y",
    "IOError at start",
    "Error alone",
    "an error_Error",
    "\tat org.x.Y.m(Y.java:12)",
    "first\n   at org.x.Y.m(Y.java:12)",
    "first\n  at  org.x.Y.m(",
    "that org.x(",
    "Caused by: x",
    "1.2",
    "v1.2",
    "ab12.3 x",
    "x 1.2.3b",
    "release 2.10.1.",
    "\u0663.\u0664",
    "1. 2.",
    "(1.0)",
    "a.b.c 9.9_",
    "Hadoop-3.3",
]


def test_fast_text_tests_match_the_reference_patterns() -> None:
    texts = TEXTS + [
        f"{r.get('summary')}\n{r.get('description') or ''}"
        for r in _records()
        if r.get("event_type") == "jira_ticket_created"
    ]
    for text in texts:
        assert jira_ticket_created._has_stack_trace(text) == bool(jira_ticket_created._STACK_TRACE.search(text)), text
        assert jira_ticket_created._has_version(text) == bool(jira_ticket_created._VERSION.search(text)), text
    assert sum(jira_ticket_created._has_stack_trace(t) for t in texts) > 5
    assert sum(jira_ticket_created._has_version(t) for t in texts) > 5
