"""``processor init DIR --event-type NAME``: the skeleton of a project a team owns.

A project is a directory: ``pipelines.yaml``, ``schemas/input/<NAME>.v1.avsc``, ``features/<NAME>.py``,
``models/``. Its files are the package data of ``processor/project_template`` (``EVENT_TYPE`` and
``RECORD_NAME`` filled in). The skeleton works as written (sample data trains a model that scores), so a team
starts from something running and replaces the example fields with its own.
"""

from __future__ import annotations

import argparse
import importlib.resources
import re
import sys
from pathlib import Path
from typing import Any

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def add_parser(sub: Any) -> None:
    init = sub.add_parser("init", help="write a working project skeleton for your own event type")
    init.add_argument("dir", type=Path, help="the project directory (created; must be empty if it exists)")
    init.add_argument("--event-type", required=True, help="snake_case name, e.g. payment_authorized")
    init.add_argument("--force", action="store_true", help="write into a directory that is not empty")
    init.set_defaults(func=cmd_init)


def cmd_init(args: argparse.Namespace) -> int:
    try:
        written = write_project(args.dir, args.event_type, force=args.force)
    except ValueError as exc:
        print(f"processor init: {exc}", file=sys.stderr)
        return 2
    for path in written:
        print(f"wrote {path}")
    print(f"next: cd {args.dir} && see README.md (generate data, train, promote, run)")
    return 0


def write_project(root: Path, event_type: str, *, force: bool = False) -> list[Path]:
    """Write the skeleton; the paths written, in order."""
    if not _NAME.match(event_type):
        raise ValueError(f"event type {event_type!r} must be snake_case ([a-z][a-z0-9_]*): it names files and keys")
    if root.exists() and any(root.iterdir()) and not force:
        raise ValueError(f"{root} is not empty (pass --force to write into it anyway)")
    files = {
        "pipelines.yaml": "pipelines.yaml.tmpl",
        f"schemas/input/{event_type}.v1.avsc": "schema.avsc.tmpl",
        f"features/{event_type}.py": "features.py.tmpl",
        "sample_data.py": "sample_data.py.tmpl",
        "produce.py": "produce.py.tmpl",
        "README.md": "README.md.tmpl",
    }
    written = []
    for relative, template in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        text = _template(template).replace("RECORD_NAME", _record_name(event_type))
        path.write_text(text.replace("EVENT_TYPE", event_type), encoding="utf-8")
        written.append(path)
    (root / "models").mkdir(exist_ok=True)
    written.append(root / "models")
    return written


def _record_name(event_type: str) -> str:
    return "".join(part.capitalize() for part in event_type.split("_"))


def _template(name: str) -> str:
    """A file of the skeleton: package data (``processor/project_template``), placeholders unfilled."""
    return importlib.resources.files("processor").joinpath("project_template", name).read_text("utf-8")
