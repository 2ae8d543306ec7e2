"""Versioned model artifacts: LightGBM's own text format plus a metadata JSON. No pickle.

Layout: ``<models_dir>/<event_type>/<version>/{model.txt, metadata.json}``. Versions sort in
creation order (``YYYYMMDDTHHMMSSZ-<8 hex of the model hash>``), so "newest" is the greatest name.
A version directory is complete only when ``metadata.json`` exists: it is written last, via a
temporary file and an atomic rename, so a processor never loads a half-written artifact.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

MODEL_FILE = "model.txt"
METADATA_FILE = "metadata.json"
FORMAT_VERSION = 1


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


def save_artifact(models_dir: Path, event_type: str, model_text: str, metadata: dict[str, Any]) -> ArtifactRef:
    """Write model.txt, then metadata.json atomically (its presence marks the artifact complete)."""
    version = metadata.get("version") or new_version(model_text)
    path = models_dir / event_type / version
    path.mkdir(parents=True, exist_ok=True)
    (path / MODEL_FILE).write_text(model_text, encoding="utf-8")
    full = {
        "format": FORMAT_VERSION,
        "event_type": event_type,
        "version": version,
        **{k: v for k, v in metadata.items() if k not in ("format", "event_type", "version")},
        "files": {MODEL_FILE: hashlib.sha256(model_text.encode("utf-8")).hexdigest()},
    }
    tmp = path / (METADATA_FILE + ".tmp")
    tmp.write_text(json.dumps(full, indent=2, sort_keys=True), encoding="utf-8")
    os.replace(tmp, path / METADATA_FILE)
    return ArtifactRef(event_type, version, path)


def list_versions(models_dir: Path, event_type: str) -> list[ArtifactRef]:
    root = models_dir / event_type
    if not root.is_dir():
        return []
    refs = [
        ArtifactRef(event_type, p.name, p)
        for p in root.iterdir()
        if p.is_dir() and (p / METADATA_FILE).is_file() and (p / MODEL_FILE).is_file()
    ]
    return sorted(refs, key=lambda r: r.version)


def latest_artifact(models_dir: Path, event_type: str) -> ArtifactRef | None:
    versions = list_versions(models_dir, event_type)
    return versions[-1] if versions else None
