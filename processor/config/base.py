"""What every area of the configuration shares: the frozen model config, the checkout's root,
and how a validation error reads."""

from __future__ import annotations

from pathlib import Path

from pydantic import ConfigDict, ValidationError

#: The source checkout's root (tests, docs, the chaos and bench harnesses use it). Nothing a
#: running processor reads is found through it: that is the project directory (``project_dir``).
PROJECT_ROOT = Path(__file__).resolve().parent.parent.parent

#: Where a project keeps its pipeline file, first match wins (``config/`` is the layout of the
#: repository's own example project).
PIPELINES_FILE_NAMES = ("pipelines.yaml", "config/pipelines.yaml")

#: Every settings and pipeline model: immutable once built, and an unknown key is an error.
FROZEN = ConfigDict(frozen=True, extra="forbid")


def format_validation_error(exc: ValidationError) -> str:
    """One line naming every bad field (``kafka.group_id: ...; redis.url: ...``)."""
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "<root>"
        parts.append(f"{loc}: {err['msg']}")
    return "; ".join(parts)
