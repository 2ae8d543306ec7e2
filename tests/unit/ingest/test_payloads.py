"""Strict JSON parsing of request bodies: each kind of bad input has its own code."""

from __future__ import annotations

import pytest

from processor.ingest.payloads import parse_json
from processor.ingest.rejections import Rejection


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"", "empty_body"),
        (b"  \n", "empty_body"),
        (b'{"a": "\xff\xfe"}', "invalid_utf8"),
        (b'{"a": NaN}', "non_finite_number"),
        (b'{"a": -Infinity}', "non_finite_number"),
        (b'{"a": 1', "invalid_json"),
        (b"[" * 5_000 + b"]" * 5_000, "too_deeply_nested"),
        (b'{"a":' * 40 + b"1" + b"}" * 40, "too_deeply_nested"),
    ],
)
def test_bad_bodies(body: bytes, code: str) -> None:
    with pytest.raises(Rejection) as info:
        parse_json(body, max_depth=32)
    assert (info.value.status, info.value.code) == (400, code)


def test_nan_inside_a_string_is_just_text() -> None:
    assert parse_json(b'{"note": "NaN and Infinity"}', max_depth=4) == {"note": "NaN and Infinity"}
