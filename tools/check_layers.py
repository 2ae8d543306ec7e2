"""Hold the package's layers: the import rules of docs/design.md §10, checked over ``processor/``.

Run by ``make lint`` (``python tools/check_layers.py``); exits 1 and names every broken rule.

The graph is built with ``ast`` from the source, without importing anything, and holds the
**module-level** imports only: an import inside a function (or a method) runs when that function
is called, not when the module loads, so it neither makes an import cycle nor pulls a training
library into ``processor run`` at start-up: those are left out. Imports under ``if TYPE_CHECKING:``
are kept: they never run, but they are a dependency of the module's design all the same, and a
cycle hidden behind one is still a cycle a reader has to untangle. The deferred imports are how a command such as ``processor train`` reaches
training code from ``processor.cli`` without the serving path loading it; a rule that must also
hold for deferred imports needs a test of its own.

An import of ``a.b.c`` counts as an import of the deepest package module that exists (``a.b.c``,
else ``a.b``); ``from a.b import c`` counts ``a.b.c`` when that is a module, else ``a.b``. The
package's ``__init__`` modules that such an import runs are not added as edges: they are
re-exports, and a cycle through one would show up as the cycle of the modules it re-exports.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

#: The serving path: what ``processor run`` loads to score events.
SERVING = (
    "processor.app",
    "processor.backoff",
    "processor.checkpointing",
    "processor.partitions",
    "processor.poison",
    "processor.outages",
    "processor.pipeline",
    "processor.stages",
    "processor.state",
    "processor.features",
    "processor.serving",
    "processor.decide",
    "processor.monitoring",
)
#: The loop and the rooms it runs: what drives the stages and the state, never driven by them.
LOOP = (
    "processor.app",
    "processor.cli",
    "processor.checkpointing.transaction",
    "processor.partitions",
    "processor.poison",
    "processor.outages",
)
#: What only training needs: its modules and its libraries (``lightgbm`` is the Python package;
#: serving calls LightGBM's C library through processor.serving.native instead).
TRAINING = (
    "processor.training",
    "sklearn",
    "matplotlib",
    "scipy",
    "lightgbm",
)
#: What only development uses: the simulator, ``processor demo``, ``make eval``.
DEVTOOLS = ("processor.devtools",)
#: The other long-running services a deployment runs beside ``processor run``.
SERVICES = ("processor.ingest", "processor.review")


@dataclass(frozen=True)
class Forbid:
    """Modules under any of ``importers`` must not import modules under any of ``imported``, except
    modules under any of ``allowed`` (a narrower door into a forbidden package)."""

    importers: tuple[str, ...]
    imported: tuple[str, ...]
    why: str
    allowed: tuple[str, ...] = ()

    def forbids(self, importer: str, target: str) -> bool:
        return under(importer, self.importers) and under(target, self.imported) and not under(target, self.allowed)


RULES = (
    Forbid(
        ("processor.stages", "processor.state"),
        LOOP,
        "stages and state are used by the loop, never the other way round",
    ),
    Forbid(
        ("processor.state",),
        ("processor.model", "processor.serving", "processor.training", "processor.features", "processor.quarantine"),
        "state stores what the stages hand it and knows nothing of models or quarantine records; of the"
        " features it knows the contract only (processor.features.base: the history counters and their keys)",
        allowed=("processor.features.base",),
    ),
    Forbid(
        ("processor.features",),
        (
            "processor.serving",
            "processor.training",
            "processor.devtools",
            "processor.state",
            "processor.stages",
            "processor.pipeline",
            "processor.app",
            "processor.cli",
        ),
        "the feature contract and modules are shared by serving, training and state: they import none of them",
    ),
    Forbid(SERVING, TRAINING, "the serving path (`processor run`) never imports training"),
    Forbid(
        (*SERVING, *SERVICES, "processor.training"),
        DEVTOOLS,
        "the runtime (`processor run`, the gateway, the review service) and training never import the"
        " development tools: the CLI reaches them through deferred imports",
    ),
)

#: Imports that break a rule today, each with the work that removes it. Listed, so that the check
#: passes now and fails on any new breach; an entry whose import is gone fails too, so the list
#: only shrinks.
KNOWN: dict[tuple[str, str], str] = {}


def under(module: str, prefixes: Iterable[str]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _module_level(body: list[ast.stmt]) -> Iterable[ast.Import | ast.ImportFrom]:
    """The import statements that run when the module loads (not in a def, class body kept)."""
    for node in body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        elif isinstance(node, ast.If):
            yield from _module_level(node.body)
            yield from _module_level(node.orelse)
        elif isinstance(node, ast.Try):
            for block in (node.body, node.orelse, node.finalbody, *(h.body for h in node.handlers)):
                yield from _module_level(block)
        elif isinstance(node, ast.With | ast.ClassDef):
            yield from _module_level(node.body)


def import_graph(root: Path) -> dict[str, set[str]]:
    """Module -> the modules it imports at module level (package modules resolved, others as named)."""
    files = {module_name(root, p): p for p in sorted(root.rglob("*.py"))}
    packages = {m for m, p in files.items() if p.name == "__init__.py"}

    def resolve(name: str) -> str:
        # the deepest module of the package that the dotted name starts with, else the top name
        parts = name.split(".")
        for n in range(len(parts), 0, -1):
            candidate = ".".join(parts[:n])
            if candidate in files:
                return candidate
        return name

    graph: dict[str, set[str]] = {}
    for module, path in files.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        here = module if module in packages else module.rpartition(".")[0]
        targets: set[str] = set()
        for node in _module_level(tree.body):
            if isinstance(node, ast.Import):
                targets.update(resolve(alias.name) for alias in node.names)
                continue
            base = node.module or ""
            if node.level:
                anchor = here.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                full = f"{base}.{alias.name}"
                targets.add(full if full in files else resolve(base))
        targets.discard(module)
        graph[module] = targets
    return graph


def cycles(graph: dict[str, set[str]], package: str) -> list[list[str]]:
    """The strongly connected components of the package's own modules with more than one module."""
    nodes = sorted(m for m in graph if under(m, (package,)))
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0

    def visit(start: str) -> None:  # Tarjan, iterative so a deep package cannot hit the recursion limit
        nonlocal counter
        work: list[tuple[str, list[str]]] = []

        def push(node: str) -> None:
            nonlocal counter
            index[node] = low[node] = counter
            counter += 1
            stack.append(node)
            on_stack.add(node)
            work.append((node, sorted(t for t in graph.get(node, ()) if t in graph)))

        push(start)
        while work:
            node, pending = work[-1]
            if pending:
                nxt = pending.pop()
                if nxt not in index:
                    push(nxt)
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))

    for node in nodes:
        if node not in index:
            visit(node)
    return sorted(found)


def violations(root: Path, rules: Iterable[Forbid] = RULES, known: Mapping[tuple[str, str], str] = KNOWN) -> list[str]:
    """Every broken rule and every import cycle under ``root`` (a package directory), as sentences.

    A breach listed in ``known`` is not reported; a ``known`` entry that no longer occurs is.
    """
    graph = import_graph(root)
    breaches = {
        (importer, target): rule.why
        for rule in rules
        for importer, targets in sorted(graph.items())
        for target in sorted(targets)
        if rule.forbids(importer, target)
    }
    problems = [f"{i} imports {t}: {why}" for (i, t), why in breaches.items() if (i, t) not in known]
    problems += [f"{i} no longer imports {t}: remove it from KNOWN" for i, t in known if (i, t) not in breaches]
    problems += [f"import cycle: {' <-> '.join(c)}" for c in cycles(graph, root.name)]
    return problems


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    root = Path(args[0]) if args else Path(__file__).resolve().parent.parent / "processor"
    problems = violations(root)
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print(f"{len(problems)} layer rule(s) broken (docs/design.md §10)", file=sys.stderr)
        return 1
    print(f"layers ok: {root}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
