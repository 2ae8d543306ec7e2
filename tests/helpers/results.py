"""The figures of ``make chaos`` and ``make scale-test`` as JSON, so a README figure can name its run."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


def write_results(path: Path, command: str, options: dict[str, Any], runs: list[dict[str, Any]]) -> None:
    """A harness's figures as JSON beside the command and the date, so README figures name their source."""
    record = {
        "command": command,
        "generated_at": datetime.now(UTC).replace(microsecond=0).isoformat(),
        "options": {k: str(v) if isinstance(v, Path) else v for k, v in options.items() if k != "results"},
        "runs": runs,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
