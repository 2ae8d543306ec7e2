"""Document inspection: magic bytes, declared size and checksum, PDF structure and page count."""

from __future__ import annotations

import hashlib
import io
import zipfile

import pytest
from pypdf import PdfWriter

from processor.ingest.documents import inspect, sniff


def _pdf(pages: int) -> bytes:
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(612, 792)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _zip(*names: str) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name in names:
            archive.writestr(name, "x")
    return out.getvalue()


def test_a_good_pdf_is_ok_with_its_page_count() -> None:
    data = _pdf(4)
    found = inspect(data, "application/pdf", declared_size=len(data), declared_sha256=hashlib.sha256(data).hexdigest())
    assert (found.status, found.reason, found.page_count) == ("ok", None, 4)
    assert found.detected_mime_type == "application/pdf"
    assert found.sha256 == hashlib.sha256(data).hexdigest()
    assert found.size_bytes == len(data)
    assert found.warnings == ()


def test_a_pdf_cut_short_is_truncated() -> None:
    data = _pdf(3)
    found = inspect(data[: len(data) // 2], "application/pdf")
    assert found.status == "truncated"
    assert found.reason_code == "pdf_eof_missing"
    assert found.page_count is None


def test_fewer_bytes_than_declared_is_truncated() -> None:
    data = _pdf(1)
    found = inspect(data, "application/pdf", declared_size=len(data) + 500)
    assert (found.status, found.reason_code) == ("truncated", "content_length_mismatch")


def test_more_bytes_than_declared_or_a_wrong_checksum_is_corrupt() -> None:
    data = _pdf(1)
    assert inspect(data, "application/pdf", declared_size=len(data) - 1).reason_code == "size_mismatch"
    found = inspect(data, "application/pdf", declared_sha256="0" * 64)
    assert (found.status, found.reason_code) == ("corrupt", "checksum_mismatch")


def test_a_pdf_with_a_broken_body_is_corrupt() -> None:
    data = b"%PDF-1.7\n" + bytes(range(256)) * 20 + b"\ntrailer\n<< /Root 99 0 R >>\n%%EOF\n"
    found = inspect(data, "application/pdf")
    assert found.status == "corrupt"
    assert found.reason_code == "pdf_unparsable"


def test_declared_pdf_without_a_pdf_header_is_corrupt() -> None:
    found = inspect(bytes(range(256)) * 4, "application/pdf")
    assert (found.status, found.reason_code, found.detected_mime_type) == ("corrupt", "pdf_header_missing", None)


def test_an_executable_posing_as_a_pdf_is_recorded_with_a_mismatch() -> None:
    found = inspect(b"MZ\x90\x00" + b"\x00" * 200, "application/pdf")
    assert found.status == "ok"  # intact: the model and the executable-payload rule decide
    assert found.detected_mime_type == "application/x-dosexec"
    assert found.warnings and found.warnings[0].startswith("mime_mismatch")


def test_an_empty_file_is_corrupt() -> None:
    assert inspect(b"", "application/pdf").reason_code == "empty_file"


@pytest.mark.parametrize(
    ("data", "declared", "expected"),
    [
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 20, None, "image/png"),
        (b"\xff\xd8\xff\xe0" + b"\x00" * 20, None, "image/jpeg"),
        (b"\x00\x00\x00\x18ftypheic" + b"\x00" * 20, None, "image/heic"),
        (b"II*\x00" + b"\x00" * 20, None, "image/tiff"),
        (b"\x7fELF\x02\x01", None, "application/x-executable"),
        (b"#!/bin/sh\nrm -rf /\n", None, "application/x-sh"),
        (b"<!DOCTYPE html><html></html>", "application/pdf", "text/html"),
        (b"name,amount\nalice,3\n", "text/csv", "text/csv"),
        (b"just words\n", "application/pdf", "text/plain"),
        (b"\x00\x01\x02\x03garbage", None, None),
    ],
)
def test_sniff(data: bytes, declared: str | None, expected: str | None) -> None:
    assert sniff(data, declared) == expected


def test_zips_are_told_apart_by_their_contents() -> None:
    assert sniff(_zip("[Content_Types].xml", "word/document.xml")) == (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    )
    assert sniff(_zip("[Content_Types].xml", "xl/workbook.xml")).endswith("spreadsheetml.sheet")  # type: ignore[union-attr]
    assert sniff(_zip("META-INF/MANIFEST.MF", "a/B.class")) == "application/java-archive"
    assert sniff(_zip("notes.txt")) == "application/zip"


def test_declared_aliases_are_not_mismatches() -> None:
    jpeg = b"\xff\xd8\xff\xe0" + b"\x00" * 64
    assert inspect(jpeg, "image/jpg").warnings == ()
    assert inspect(jpeg, "application/octet-stream").warnings == ()
