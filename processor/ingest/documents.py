"""What an uploaded file really is: magic bytes, declared size and checksum, PDF structure.

The result is recorded whatever it says: a truncated or corrupt upload still becomes a
``document_uploaded`` event (``upload_status`` ``truncated`` or ``corrupt`` with the reason), so
the processor routes it by its rules and a person can see it; only the HTTP answer tells the
client that it failed.
"""

from __future__ import annotations

import hashlib
import io
import logging
import re
import zipfile
from dataclasses import dataclass, field
from typing import Protocol

from pypdf import PdfReader

#: Magic numbers at offset 0, most specific first. Office files and jars are zips: told apart below.
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"%PDF-", "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"II*\x00", "image/tiff"),
    (b"MM\x00*", "image/tiff"),
    (b"PK\x03\x04", "application/zip"),
    (b"PK\x05\x06", "application/zip"),  # an empty archive
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "application/x-ole-storage"),  # .doc, .xls, .msi
    (b"MZ", "application/x-dosexec"),
    (b"\x7fELF", "application/x-executable"),
    (b"\xcf\xfa\xed\xfe", "application/x-mach-binary"),
    (b"\xfe\xed\xfa\xcf", "application/x-mach-binary"),
    (b"\x1f\x8b", "application/gzip"),
    (b"7z\xbc\xaf\x27\x1c", "application/x-7z-compressed"),
    (b"Rar!\x1a\x07", "application/vnd.rar"),
    (b"{\\rtf", "application/rtf"),
    (b"#!", "application/x-sh"),
)
_OOXML = (
    ("word/", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    ("xl/", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    ("ppt/", "application/vnd.openxmlformats-officedocument.presentationml.presentation"),
)
_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"heim", b"heis", b"mif1", b"msf1"}
_HTML = re.compile(rb"\A\s*<(!doctype\s+html|html|head|body|script)\b", re.IGNORECASE)
#: Declared types that mean the same thing as what the magic bytes say.
_ALIASES = {"image/jpg": "image/jpeg", "image/pjpeg": "image/jpeg", "application/x-pdf": "application/pdf"}
#: Text has no magic number: valid UTF-8 without NULs is taken at its declared text type.
_TEXT_TYPES = {"text/plain", "text/csv", "text/markdown", "application/json", "text/tab-separated-values"}
#: A PDF's ``%%EOF`` must sit near the end; readers allow trailing bytes, not many.
_EOF_WINDOW = 1_024

logging.getLogger("pypdf").setLevel(logging.ERROR)  # it warns about every repaired xref


@dataclass(frozen=True)
class Inspection:
    size_bytes: int
    sha256: str
    detected_mime_type: str | None
    page_count: int | None
    #: ``ok``, ``truncated`` or ``corrupt``, the values the document_uploaded schema allows.
    status: str
    #: ``<code>: <what was found>`` when the status is not ok.
    reason: str | None = None
    #: Things a person should know that do not make the upload damaged (a type mismatch...).
    warnings: tuple[str, ...] = field(default_factory=tuple)

    @property
    def reason_code(self) -> str | None:
        return self.reason.split(":", 1)[0] if self.reason else None


def sniff(data: bytes, declared: str | None = None) -> str | None:
    """The MIME type the bytes show, or None when nothing is recognised."""
    for magic, mime in _MAGIC:
        if data.startswith(magic):
            return _zip_kind(data) if mime == "application/zip" else mime
    if len(data) >= 12 and data[4:8] == b"ftyp" and data[8:12] in _HEIF_BRANDS:
        return "image/heic"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if _HTML.match(data[:1_024]):
        return "text/html"
    if data and b"\x00" not in data[:8_192] and _is_utf8_prefix(data[:8_192]):
        normalised = _normalise(declared)
        return normalised if normalised in _TEXT_TYPES else "text/plain"
    return None


def inspect(
    data: bytes, declared_mime: str, *, declared_size: int | None = None, declared_sha256: str | None = None
) -> Inspection:
    size = len(data)
    digest = hashlib.sha256(data).hexdigest()
    detected = sniff(data, declared_mime)
    declared = _normalise(declared_mime)
    warnings: list[str] = []
    if detected is not None and declared not in (detected, "application/octet-stream"):
        warnings.append(f"mime_mismatch: declared {declared_mime[:100]}, the bytes are {detected}")

    def result(status: str, reason: str | None, pages: int | None = None) -> Inspection:
        return Inspection(size, digest, detected, pages, status, reason, tuple(warnings))

    if declared_size is not None and declared_size != size:
        if size < declared_size:
            return result(
                "truncated", f"content_length_mismatch: received {size:,} of {declared_size:,} declared bytes"
            )
        return result("corrupt", f"size_mismatch: received {size:,} bytes, {declared_size:,} declared")
    if declared_sha256 is not None and declared_sha256.lower() != digest:
        return result("corrupt", f"checksum_mismatch: sha256 of the received bytes is {digest}")
    if size == 0:
        return result("corrupt", "empty_file: the upload has no bytes")
    if detected == "application/pdf":
        return _inspect_pdf(data, result)
    if declared == "application/pdf" and detected is None:
        return result("corrupt", "pdf_header_missing: declared a PDF, but the bytes do not start with %PDF-")
    return result("ok", None)


def _inspect_pdf(data: bytes, result: _Result) -> Inspection:
    if b"%%EOF" not in data[-_EOF_WINDOW:]:
        return result("truncated", "pdf_eof_missing: the PDF ends without %%EOF, so the upload was cut short")
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted and not reader.decrypt(""):
            return result("ok", None)  # a locked PDF is intact; its pages cannot be counted without the password
        pages = len(reader.pages)
    except (MemoryError, RecursionError):
        raise  # too complex to inspect, not damaged: the sandbox's limits say so (422 document_too_complex)
    except Exception as exc:  # pypdf raises many types on damaged files; all mean "does not parse"
        return result("corrupt", f"pdf_unparsable: {type(exc).__name__}: {str(exc)[:200]}")
    return result("ok", None, pages)


class _Result(Protocol):
    def __call__(self, status: str, reason: str | None, pages: int | None = None) -> Inspection: ...


def _zip_kind(data: bytes) -> str:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = archive.namelist()[:2_000]
    except (zipfile.BadZipFile, ValueError, OSError):
        return "application/zip"
    if "[Content_Types].xml" in names:
        for prefix, mime in _OOXML:
            if any(n.startswith(prefix) for n in names):
                return mime
    if "META-INF/MANIFEST.MF" in names:
        return "application/java-archive"
    if "AndroidManifest.xml" in names:
        return "application/vnd.android.package-archive"
    return "application/zip"


def _normalise(mime: str | None) -> str | None:
    if mime is None:
        return None
    bare = mime.split(";", 1)[0].strip().lower()
    return _ALIASES.get(bare, bare)


def _is_utf8_prefix(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start >= len(data) - 3  # a multi-byte character cut by the prefix is fine
    return True
