"""tools/check_layers.py: the layer rules hold on processor/, and the checker catches a breach."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[3]


def _checker() -> ModuleType:
    spec = importlib.util.spec_from_file_location("check_layers", ROOT / "tools" / "check_layers.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


check = _checker()


@pytest.fixture
def make_package(tmp_path: Path) -> Callable[[dict[str, str]], Path]:
    """A factory: writes ``processor/`` under tmp_path from {relative path: source}."""

    def make(files: dict[str, str]) -> Path:
        root = tmp_path / "processor"
        for relative, source in {"__init__.py": "", **files}.items():
            path = root / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            if not (path.parent / "__init__.py").exists():
                (path.parent / "__init__.py").write_text("")
            path.write_text(source)
        return root

    return make


def test_the_processor_package_keeps_its_layers() -> None:
    assert check.violations(ROOT / "processor") == []


def _serving_modules() -> list[str]:
    """The modules under check.SERVING, found in the source tree (a package's own modules included)."""
    source = ROOT / "processor"
    names = (check.module_name(source, path) for path in sorted(source.rglob("*.py")))
    return [name for name in names if check.under(name, check.SERVING)]


def test_loading_the_serving_path_loads_no_training_or_devtools_module_even_through_a_library() -> None:
    # the static check sees processor/ only; a third-party import that pulls scipy in shows up here.
    # Every module of the serving packages is imported, not only their __init__.
    modules = [*_serving_modules(), "processor.cli"]
    assert "processor.serving.native" in modules and "processor.pipeline" in modules
    banned = (*check.TRAINING, *check.DEVTOOLS)
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        "from processor.cli import build_parser\n"
        "build_parser()\n"  # every subcommand's arguments, as `processor run` builds them
        f"print('\\n'.join(sorted(m for m in sys.modules if any(m == t or m.startswith(t + '.') for t in {banned!r}))))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert done.stdout.split() == []


def test_a_module_level_cycle_fails(make_package: Callable[[dict[str, str]], Path]) -> None:
    root = make_package(
        {
            "a.py": "from processor.b import thing\n",
            "b.py": "from processor import c\n",
            "c.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from processor.a import x\n",
        }
    )
    assert check.violations(root, known={}) == ["import cycle: processor.a <-> processor.b <-> processor.c"]
    assert check.main([str(root)]) == 1


def test_an_import_inside_a_function_is_deferred_and_makes_no_cycle(
    make_package: Callable[[dict[str, str]], Path],
) -> None:
    root = make_package(
        {
            "a.py": "from processor.b import thing\n",
            "b.py": "def f():\n    from processor.a import x\n    return x\n",
        }
    )
    assert check.violations(root, known={}) == []


def test_relative_imports_are_resolved(make_package: Callable[[dict[str, str]], Path]) -> None:
    root = make_package({"state/keys.py": "from ..app import loop\n", "app.py": "from .state import keys\n"})
    problems = check.violations(root, known={})
    assert "processor.state.keys imports processor.app: " + check.RULES[0].why in problems
    assert "import cycle: processor.app <-> processor.state.keys" in problems


@pytest.mark.parametrize(
    ("path", "source", "target"),
    [
        ("stages/decode.py", "import processor.cli\n", "processor.cli"),
        ("state/dedupe.py", "from processor.quarantine.replay import x\n", "processor.quarantine.replay"),
        ("state/dedupe.py", "from processor.serving import worker\n", "processor.serving.worker"),
        (
            "serving/worker.py",
            "try:\n    import sklearn.linear_model\nexcept ImportError:\n    pass\n",
            "sklearn.linear_model",
        ),
        ("pipeline.py", "from processor.training.training import train\n", "processor.training.training"),
        ("monitoring/drift.py", "import lightgbm as lgb\n", "lightgbm"),
        ("state/history.py", "from processor.features.history import InMemoryHistory\n", "processor.features.history"),
        ("features/base.py", "from processor.serving import worker\n", "processor.serving.worker"),
        ("serving/worker.py", "from processor.devtools.simulate import run\n", "processor.devtools.simulate.run"),
        ("ingest/app.py", "import processor.devtools.simulate.run\n", "processor.devtools.simulate.run"),
        ("review/web.py", "from processor.devtools import demo\n", "processor.devtools.demo"),
        (
            "training/training.py",
            "from processor.devtools.simulate.run import run\n",
            "processor.devtools.simulate.run",
        ),
    ],
)
def test_each_rule_fails_on_a_breach(
    make_package: Callable[[dict[str, str]], Path], path: str, source: str, target: str
) -> None:
    files = {
        "cli.py": "",
        "quarantine/replay.py": "",
        "serving/worker.py": "",
        "training/training.py": "",
        "features/base.py": "",
        "features/history.py": "",
        "devtools/demo.py": "",
        "devtools/simulate/run.py": "",
    }
    files[path] = source  # the one breach, over the empty modules it names
    problems = check.violations(make_package(files), known={})
    importer = "processor." + path.removesuffix(".py").replace("/", ".")
    assert len(problems) == 1 and problems[0].startswith(f"{importer} imports {target}: "), problems


def test_state_may_import_the_feature_contract_and_the_cli_may_defer_to_devtools(
    make_package: Callable[[dict[str, str]], Path],
) -> None:
    root = make_package(
        {
            "state/history.py": "from processor.features.base import HistoryCounter\n",
            "features/base.py": "from processor.errors import ConfigError\n",
            "errors.py": "",
            "cli.py": "def simulate():\n    from processor.devtools.simulate import run\n    return run\n",
            "devtools/simulate/run.py": "from processor.training import training\n",
            "training/training.py": "",
        }
    )
    assert check.violations(root, known={}) == []


def test_a_known_breach_passes_and_a_stale_one_fails(make_package: Callable[[dict[str, str]], Path]) -> None:
    root = make_package({"state/history.py": "from processor.serving import worker\n", "serving/worker.py": ""})
    known = {("processor.state.history", "processor.serving.worker"): "moving"}
    assert check.violations(root, known=known) == []
    stale = {**known, ("processor.state.keys", "processor.model.x"): "gone"}
    assert check.violations(root, known=stale) == [
        "processor.state.keys no longer imports processor.model.x: remove it from KNOWN"
    ]
