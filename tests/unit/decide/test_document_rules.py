"""The shipped rules of document_uploaded: a declared type the bytes contradict goes to a person."""

from __future__ import annotations

from typing import Any

import pytest

from processor.config import PipelinesConfig
from processor.decide.rules import compile_rules, first_match
from processor.features import document_uploaded as features
from processor.serializers.schemas import SchemaStore


def _upload(declared: str, detected: str | None, **fields: Any) -> dict[str, Any]:
    return {
        "event_id": "d-1",
        "file_name": "invoice.pdf",
        "mime_type": declared,
        "detected_mime_type": detected,
        "size_bytes": 40_000,
        "page_count": None,
        "upload_status": "ok",
        **fields,
    }


@pytest.mark.parametrize(
    ("declared", "detected", "rule"),
    [
        ("application/pdf", "text/html", "declared-type-mismatch"),  # HTML sent as a PDF
        ("application/pdf", "image/png", "declared-type-mismatch"),
        ("application/pdf", "application/x-dosexec", "executable-payload"),  # blocked, not only reviewed
        ("application/pdf", "application/pdf", None),
        ("application/octet-stream", "application/pdf", None),  # declared nothing
    ],
)
def test_a_declared_type_the_bytes_contradict_is_routed_by_a_rule(
    pipelines: PipelinesConfig, schema_store: SchemaStore, declared: str, detected: str | None, rule: str | None
) -> None:
    config = pipelines.event_types["document_uploaded"]
    fields = set(schema_store.latest(config.schema_name or "document_uploaded").fields)
    rules = compile_rules("document_uploaded", config.rules, fields, set(features.FEATURE_NAMES))
    record = _upload(declared, detected)
    values = dict(zip(features.FEATURE_NAMES, features.compute(record, {}), strict=True))
    matched = first_match(rules, record, values)
    assert (matched.id if matched else None) == rule
    if rule == "declared-type-mismatch":
        assert matched is not None and matched.action == "review"
