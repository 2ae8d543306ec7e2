"""Features of ``document_uploaded``: should this upload be rejected?

Malicious or broken uploads give themselves away by inconsistency: the client declares one type
and the magic bytes say another, the name hides a second extension (``invoice.pdf.exe``) or a
right-to-left override, the byte count per page is implausible, the same bytes are resubmitted
over and over. Tables and patterns are built at import; ``compute`` is a pure lookup, and
``compute_batch`` gives the same rows for a whole batch (serving), sharing the per-value parts.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from processor.features.base import HistoryCounter

_HOUR_MS = 3_600_000
_DAY_MS = 24 * _HOUR_MS

HISTORY: tuple[HistoryCounter, ...] = (
    # Upload floods from one account: scripted abuse or a client stuck in a retry loop.
    HistoryCounter("uploads_same_uploader_1h", "uploader_id", _HOUR_MS),
    # The same bytes again and again: resubmission of a rejected file, or spraying one payload.
    HistoryCounter("uploads_same_sha256_24h", "sha256", _DAY_MS),
)

FEATURE_NAMES: tuple[str, ...] = (
    "log_size_bytes",
    "page_count",
    "log_bytes_per_page",
    "mime_mismatch",
    "detected_mime_missing",
    "detected_executable",
    "declared_executable",
    "extension_executable",
    "double_extension",
    "extension_mime_mismatch",
    "upload_status_code",
    "file_name_length",
    "file_name_non_ascii",
    "file_name_bidi_control",
    *(c.name for c in HISTORY),
)

UPLOAD_STATUS_CODES: Mapping[str, float] = {"ok": 0.0, "corrupt": 1.0, "truncated": 2.0}
UPLOAD_STATUS_OTHER = 3.0

#: MIME types of things that run: binaries, installers, archives of code, scripts.
EXECUTABLE_MIME_TYPES: frozenset[str] = frozenset(
    {
        "application/x-dosexec",
        "application/x-msdownload",
        "application/x-msdos-program",
        "application/x-ms-installer",
        "application/x-msi",
        "application/vnd.microsoft.portable-executable",
        "application/x-executable",
        "application/x-elf",
        "application/x-sharedlib",
        "application/x-mach-binary",
        "application/x-apple-diskimage",
        "application/java-archive",
        "application/x-java-archive",
        "application/vnd.android.package-archive",
        "application/x-sh",
        "application/x-shellscript",
        "text/x-shellscript",
        "text/x-sh",
        "application/x-bat",
        "application/x-msdos-batch",
        "application/javascript",
        "text/javascript",
        "application/x-javascript",
        "application/x-python-code",
        "text/x-python",
        "application/x-perl",
        "text/x-perl",
        "application/hta",
        "text/vbscript",
        "application/x-powershell",
    }
)

EXECUTABLE_EXTENSIONS: frozenset[str] = frozenset(
    {
        "apk", "app", "bat", "bin", "cmd", "com", "cpl", "dll", "dmg", "elf", "exe", "hta", "jar",
        "js", "jse", "lnk", "msi", "msp", "pif", "ps1", "py", "reg", "scr", "sh", "vb", "vbe",
        "vbs", "wsf", "wsh",
    }
)  # fmt: skip

#: Extensions of documents people upload on purpose, and the MIME types each may carry.
DOCUMENT_EXTENSION_MIME: Mapping[str, frozenset[str]] = {
    "pdf": frozenset({"application/pdf", "application/x-pdf"}),
    "doc": frozenset({"application/msword"}),
    "docx": frozenset({"application/vnd.openxmlformats-officedocument.wordprocessingml.document"}),
    "xls": frozenset({"application/vnd.ms-excel"}),
    "xlsx": frozenset({"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}),
    "ppt": frozenset({"application/vnd.ms-powerpoint"}),
    "pptx": frozenset({"application/vnd.openxmlformats-officedocument.presentationml.presentation"}),
    "odt": frozenset({"application/vnd.oasis.opendocument.text"}),
    "ods": frozenset({"application/vnd.oasis.opendocument.spreadsheet"}),
    "rtf": frozenset({"application/rtf", "text/rtf"}),
    "txt": frozenset({"text/plain"}),
    "csv": frozenset({"text/csv", "text/plain", "application/csv"}),
    "json": frozenset({"application/json", "text/plain"}),
    "xml": frozenset({"application/xml", "text/xml"}),
    "html": frozenset({"text/html"}),
    "htm": frozenset({"text/html"}),
    "jpg": frozenset({"image/jpeg"}),
    "jpeg": frozenset({"image/jpeg"}),
    "png": frozenset({"image/png"}),
    "gif": frozenset({"image/gif"}),
    "tif": frozenset({"image/tiff"}),
    "tiff": frozenset({"image/tiff"}),
    "webp": frozenset({"image/webp"}),
    "heic": frozenset({"image/heic", "image/heif"}),
    "zip": frozenset({"application/zip", "application/x-zip-compressed"}),
}
# An extension the client-side name could legitimately end with, for the double-extension test.
_DECOY_EXTENSIONS: frozenset[str] = frozenset(DOCUMENT_EXTENSION_MIME)

# Unicode bidirectional controls (U+202A..U+202E, U+2066..U+2069): "invoice\u202Efdp.exe" shows as
# "invoiceexe.pdf". No honest file name needs them.
_BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")


def _mime(value: Any) -> str | None:
    """Normalised MIME type (lower case, parameters dropped), or None when absent."""
    if not isinstance(value, str):
        return None
    base = value.split(";", 1)[0].strip().lower()
    return base or None


def _extensions(name: str) -> list[str]:
    """Lower-cased dot-separated suffixes after the stem (``a.tar.gz`` -> ``["tar", "gz"]``)."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1].strip().strip(".")
    parts = base.lower().split(".")
    return [p.strip() for p in parts[1:]] if len(parts) > 1 else []


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return math.nan
    return float(value)


def _sizes(size_value: Any, pages_value: Any) -> tuple[float, float, float]:
    """log size, page count, log bytes per page."""
    size = _number(size_value)
    pages = _number(pages_value)
    return (
        math.log1p(size) if size >= 0 else math.nan,
        pages,
        math.log1p(size / pages) if pages > 0 and size >= 0 else math.nan,
    )


def _types(declared_value: Any, detected_value: Any) -> tuple[float, float, float, float]:
    """MIME mismatch, detected type missing, detected executable, declared executable."""
    declared = _mime(declared_value)
    detected = _mime(detected_value)
    declared_exec = math.nan if declared is None else (1.0 if declared in EXECUTABLE_MIME_TYPES else 0.0)
    if detected is None:
        return math.nan, 1.0, math.nan, declared_exec
    return (
        math.nan if declared is None else (0.0 if declared == detected else 1.0),
        0.0,
        1.0 if detected in EXECUTABLE_MIME_TYPES else 0.0,
        declared_exec,
    )


_NO_NAME = (math.nan,) * 6


def _name(name: Any, declared_value: Any) -> tuple[float, ...]:
    """Executable extension, double extension, extension/MIME mismatch, length, non-ASCII, bidi control."""
    if not isinstance(name, str):
        return _NO_NAME
    declared = _mime(declared_value)
    exts = _extensions(name)
    last = exts[-1] if exts else ""
    expected = DOCUMENT_EXTENSION_MIME.get(last)
    return (
        1.0 if last in EXECUTABLE_EXTENSIONS else 0.0,
        1.0 if len(exts) >= 2 and exts[-2] in _DECOY_EXTENSIONS and last != exts[-2] else 0.0,
        # An extension we have no table entry for gives no opinion (NaN), not "consistent".
        math.nan if expected is None or declared is None else float(declared not in expected),
        float(len(name)),
        0.0 if name.isascii() else 1.0,
        1.0 if _BIDI_CONTROLS.search(name) else 0.0,
    )


def _status(status: Any) -> float:
    if not isinstance(status, str):
        return math.nan
    return UPLOAD_STATUS_CODES.get(status.strip().lower(), UPLOAD_STATUS_OTHER)


def compute(record: Mapping[str, Any], history: Mapping[str, int]) -> list[float]:
    """The feature vector of one validated upload, in ``FEATURE_NAMES`` order."""
    mismatch, detected_missing, detected_exec, declared_exec = _types(
        record.get("mime_type"), record.get("detected_mime_type")
    )
    ext_exec, double, ext_mismatch, name_len, non_ascii, bidi = _name(record.get("file_name"), record.get("mime_type"))
    return [
        *_sizes(record.get("size_bytes"), record.get("page_count")),
        mismatch,
        detected_missing,
        detected_exec,
        declared_exec,
        ext_exec,
        double,
        ext_mismatch,
        _status(record.get("upload_status")),
        name_len,
        non_ascii,
        bidi,
        *(float(history.get(c.name, 0)) for c in HISTORY),
    ]


def compute_batch(
    records: Sequence[Mapping[str, Any]], history: Mapping[str, npt.NDArray[np.int64]]
) -> npt.NDArray[np.float64]:
    """``compute`` of every record, one row each, built a column at a time."""
    out = np.empty((len(records), len(FEATURE_NAMES)), dtype=np.float64)
    if not records:
        return out
    out[:, 0:3] = [_sizes(r.get("size_bytes"), r.get("page_count")) for r in records]
    out[:, 3:7] = [_types(r.get("mime_type"), r.get("detected_mime_type")) for r in records]
    names = [_name(r.get("file_name"), r.get("mime_type")) for r in records]
    out[:, 7:10] = [n[:3] for n in names]
    out[:, 10] = [_status(r.get("upload_status")) for r in records]
    out[:, 11:14] = [n[3:] for n in names]
    for column, counter in enumerate(HISTORY, start=14):
        out[:, column] = history.get(counter.name, 0.0)
    return out
