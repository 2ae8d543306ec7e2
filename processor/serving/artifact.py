"""Versioned model artifacts: LightGBM's own text format plus a metadata JSON. No pickle.

Layout: ``<models_dir>/<event_type>/<version>/`` holding ``model.txt`` (LightGBM text),
``metadata.json`` (version, data range and hash, features, split, metrics, thresholds, reference
histograms), optional extra files (``report.html``) and ``SHA256SUMS``: one ``<sha256>  <file>``
line per file, in ``sha256sum`` format so an operator can check it with coreutils too.

Versions sort in creation order (``YYYYMMDDTHHMMSSZ-<8 hex of the model hash>``), so "newest" is
the greatest name. An artifact is written whole into a hidden temporary directory that is then
renamed into place: a processor (or ``list_versions``) never sees a half-written version.

``verify_artifact`` recomputes every checksum; loading (the worker) and promoting (the registry)
refuse an artifact whose files do not match, so a corrupted or hand-edited model never serves.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from processor.errors import ProcessorError

MODEL_FILE = "model.txt"
METADATA_FILE = "metadata.json"
CHECKSUMS_FILE = "SHA256SUMS"
FORMAT_VERSION = 2


class ArtifactError(ProcessorError):
    """An artifact that must not be loaded: missing, incomplete or failing its checksums."""


@dataclass(frozen=True, slots=True)
class ArtifactRef:
    event_type: str
    version: str
    path: Path

    @property
    def model_path(self) -> Path:
        return self.path / MODEL_FILE

    def metadata(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.path / METADATA_FILE).read_text(encoding="utf-8"))
        return data


def new_version(model_text: str, now: datetime | None = None) -> str:
    now = now or datetime.now(UTC)
    digest = hashlib.sha256(model_text.encode("utf-8")).hexdigest()[:8]
    return f"{now.strftime('%Y%m%dT%H%M%SZ')}-{digest}"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def save_artifact(
    models_dir: Path,
    event_type: str,
    model_text: str,
    metadata: dict[str, Any],
    extra_files: Mapping[str, bytes] | None = None,
) -> ArtifactRef:
    """Write every file into a temporary directory, checksum them, then rename it into place."""
    version = metadata.get("version") or new_version(model_text)
    root = models_dir / event_type
    final = root / version
    if final.exists():
        raise ArtifactError("artifact_exists", f"artifact {event_type} {version} already exists at {final}")
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f".{version}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        (tmp / MODEL_FILE).write_text(model_text, encoding="utf-8")
        for name, data in (extra_files or {}).items():
            if "/" in name or name in (MODEL_FILE, METADATA_FILE, CHECKSUMS_FILE):
                raise ArtifactError("invalid_artifact_file", f"extra artifact file name {name!r} is not allowed")
            (tmp / name).write_bytes(data)
        full = {
            "format": FORMAT_VERSION,
            "event_type": event_type,
            "version": version,
            **{k: v for k, v in metadata.items() if k not in ("format", "event_type", "version", "files")},
            # metadata cannot hold its own hash: SHA256SUMS covers it
            "files": {p.name: sha256_file(p) for p in sorted(tmp.iterdir())},
        }
        (tmp / METADATA_FILE).write_text(json.dumps(full, indent=2, sort_keys=True), encoding="utf-8")
        sums = "".join(f"{sha256_file(p)}  {p.name}\n" for p in sorted(tmp.iterdir()))
        (tmp / CHECKSUMS_FILE).write_text(sums, encoding="utf-8")
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return ArtifactRef(event_type, version, final)


def verify_artifact(ref: ArtifactRef) -> dict[str, Any]:
    """Check every file against ``SHA256SUMS`` (and the model against the metadata); returns the metadata.

    Raises ``ArtifactError`` naming the first file that is missing or does not match. Artifacts
    of format 1 (before ``SHA256SUMS``) are checked against the model hash in their metadata.
    """
    if not ref.path.is_dir():
        raise ArtifactError("artifact_missing", f"no artifact {ref.event_type} {ref.version} at {ref.path}")
    try:
        metadata = ref.metadata()
    except (OSError, ValueError) as exc:
        raise ArtifactError("metadata_unreadable", f"{ref.path / METADATA_FILE}: {exc}") from exc
    sums_path = ref.path / CHECKSUMS_FILE
    expected: dict[str, str] = {}
    if sums_path.is_file():
        for line in sums_path.read_text(encoding="utf-8").splitlines():
            digest, _, name = line.partition("  ")
            if digest and name:
                expected[name] = digest
    elif metadata.get("format", 1) >= 2:
        raise ArtifactError("checksums_missing", f"{sums_path} is missing")
    else:
        expected = dict(metadata.get("files", {}))
    if MODEL_FILE not in expected:
        raise ArtifactError("checksum_mismatch", f"{ref.path}: no checksum recorded for {MODEL_FILE}")
    for name, digest in sorted(expected.items()):
        path = ref.path / name
        if not path.is_file():
            raise ArtifactError("artifact_file_missing", f"{path} is listed in the checksums but missing")
        actual = sha256_file(path)
        if actual != digest:
            raise ArtifactError(
                "checksum_mismatch", f"{path}: sha256 {actual[:16]}... differs from the recorded {digest[:16]}..."
            )
    if metadata.get("files", {}).get(MODEL_FILE, expected[MODEL_FILE]) != expected[MODEL_FILE]:
        raise ArtifactError("checksum_mismatch", f"{ref.path}: {MODEL_FILE} hash differs between metadata and sums")
    if metadata.get("event_type", ref.event_type) != ref.event_type or metadata.get("version") != ref.version:
        raise ArtifactError(
            "metadata_mismatch",
            f"{ref.path}: metadata names {metadata.get('event_type')} {metadata.get('version')}, "
            f"the directory {ref.event_type} {ref.version}",
        )
    return metadata


def find_artifact(models_dir: Path, event_type: str, version: str) -> ArtifactRef:
    path = models_dir / event_type / version
    if version.startswith(".") or "/" in version or not (path / METADATA_FILE).is_file():
        known = ", ".join(r.version for r in list_versions(models_dir, event_type)) or "none"
        raise ArtifactError("unknown_version", f"no artifact {event_type} {version} in {models_dir} (known: {known})")
    return ArtifactRef(event_type, version, path)


def list_versions(models_dir: Path, event_type: str) -> list[ArtifactRef]:
    root = models_dir / event_type
    if not root.is_dir():
        return []
    refs = [
        ArtifactRef(event_type, p.name, p)
        for p in root.iterdir()
        if p.is_dir() and not p.name.startswith(".") and (p / METADATA_FILE).is_file() and (p / MODEL_FILE).is_file()
    ]
    return sorted(refs, key=lambda r: r.version)


def latest_artifact(models_dir: Path, event_type: str) -> ArtifactRef | None:
    versions = list_versions(models_dir, event_type)
    return versions[-1] if versions else None
