"""`processor run`, started the way its console script starts it, processes events on the real
broker and Redis with trained models without ever loading the training libraries."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from helpers.kafka import settings_env
from processor.audit import audit, read_topic
from processor.config import Settings
from processor.devtools.simulate import run_simulate
from processor.serializers.outputs import decode_json_output

TRAINING_ONLY = ("sklearn", "scipy", "matplotlib", "lightgbm")
#: The processor's own packages `processor run` must not load (docs/design.md §10).
NOT_SERVING = ("processor.training", "processor.devtools")

# the console script's entry point (pyproject: processor = "processor.cli:main"), then a report of
# what the process had loaded by the time it stopped
_RUN = """
import json, sys
from processor.cli import main
code = main(["run", "--max-idle", "4"])
print(json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""


def test_processor_run_scores_without_loading_training_libraries(
    topic_factory: Callable[..., Settings], trained_models: Path, tmp_path: Path
) -> None:
    settings = topic_factory(models_dir=trained_models)
    run_simulate(
        settings,
        count=300,
        seed=3,
        faults_spec="none",
        out=None,
        topic=None,
        types=None,
        span_s=3600.0,
    )
    done = subprocess.run(
        [sys.executable, "-c", _RUN], env=settings_env(settings), capture_output=True, text=True, timeout=180
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["code"] == 0
    modules = set(report["modules"])
    loaded = sorted(m for m in modules if m.split(".")[0] in TRAINING_ONLY)
    assert not loaded, f"processor run loaded training libraries: {loaded[:20]}"
    own = sorted(m for m in modules if any(m == p or m.startswith(p + ".") for p in NOT_SERVING))
    assert not own, f"processor run loaded training or development modules: {own[:20]}"
    assert "processor.serving.native" in modules  # the models were loaded through the C library

    assert audit(settings).identity_holds
    scored = [decode_json_output(m.value()) for m in read_topic(settings, settings.topics.scored, idle_s=1.0)]
    assert scored, "nothing was scored"
    versions = {r["model_version"] for r in scored}
    assert None not in versions and len(versions) >= 2  # every type's model scored, none fell back
