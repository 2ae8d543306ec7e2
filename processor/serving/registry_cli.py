"""``processor model list | show V | promote V | rollback | shadow V | unshadow``: the registry by hand.

``processor model bootstrap`` (also spelled ``processor models bootstrap``) trains whatever model
is missing or does not load (``processor.training.bootstrap``).

Every change names who made it and why (``--reason`` is required: the next person on call needs
it) and lands in the registry's log; running processors follow within
``PROCESSOR_MODELS__RELOAD_INTERVAL_S`` seconds, at a batch boundary.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from processor.config import Settings, load_pipelines
from processor.errors import ConfigError, ProcessorError
from processor.features import load_feature_module
from processor.features.base import FeatureModule
from processor.serving.artifact import find_artifact, list_versions, verify_artifact
from processor.serving.registry import ModelRegistry
from processor.state.redis_client import connect


def add_model_parser(sub: Any, handler: Callable[[argparse.Namespace], int]) -> None:
    model = sub.add_parser(
        "model", aliases=["models"], help="the model registry: list, show, promote, rollback, shadow; bootstrap"
    )
    model_sub = model.add_subparsers(dest="model_command", required=True)
    boot = model_sub.add_parser(
        "bootstrap", help="train every model that is missing or does not load, on generated history (idempotent)"
    )
    boot.add_argument(
        "--event-type", action="append", default=None, help="repeatable (default: every type of the pipelines)"
    )
    boot.add_argument(
        "--history-dir", type=Path, default=None, help="keep the generated history here (default: a temporary dir)"
    )
    boot.set_defaults(func=handler)
    specs: list[tuple[str, str, bool, bool]] = [
        # name, help, takes a version, changes state (needs --reason)
        ("list", "versions per event type, marking the active and shadow ones", False, False),
        ("show", "one version's metadata: data, split, metrics beside baselines, checksums", True, False),
        ("promote", "make a version the active one (verified first)", True, True),
        ("rollback", "return to the version active before the current one", False, True),
        ("shadow", "score a candidate beside the active model, without acting on it", True, True),
        ("unshadow", "stop shadow scoring", False, True),
        ("log", "the last registry changes: who, when, why", False, False),
    ]
    for name, text, versioned, changes in specs:
        p = model_sub.add_parser(name, help=text)
        if versioned:
            p.add_argument("version")
        p.add_argument("--event-type", required=name not in ("list",), default=None)
        if changes:
            p.add_argument("--reason", required=True, help="why (recorded in the registry log)")
        if name in ("list", "show", "log"):
            p.add_argument("--json", action="store_true")
        p.set_defaults(func=handler)


def run_model_command(settings: Settings, args: argparse.Namespace) -> int:
    if args.model_command == "bootstrap":  # no registry: it only writes artifacts (the newest serves)
        from processor.training.bootstrap import run_bootstrap

        return run_bootstrap(settings, args.event_type, args.history_dir)
    pipelines = load_pipelines(settings.pipelines_file)
    types = list(pipelines.event_types)
    if args.event_type is not None and args.event_type not in types:
        raise ConfigError("unknown_event_type", f"no pipeline for event type {args.event_type!r}: one of {types}")
    registry = ModelRegistry(connect(settings.redis), settings.redis.key_prefix, settings.models.dir)

    def module(event_type: str) -> FeatureModule:
        cfg = pipelines.event_types[event_type]
        return load_feature_module(cfg.features or event_type, features_dir=settings.features_dir)

    command: str = args.model_command
    user = getpass.getuser()
    try:
        if command == "list":
            return _list(registry, [args.event_type] if args.event_type else types, args.json)
        if command == "show":
            return _show(registry, args.event_type, args.version, args.json)
        if command == "log":
            entries = registry.log(args.event_type)
            if args.json:
                print(json.dumps(entries, indent=2))
            for e in entries:
                print(
                    f"{e['at']}  {e['action']:<9} {e['version'] or '-':<28} was {e['previous'] or '-':<28} "
                    f"by {e['by']}: {e['reason']}"
                )
            return 0
        if command == "promote":
            change = registry.promote(
                args.event_type, args.version, module(args.event_type), by=user, reason=args.reason
            )
        elif command == "rollback":
            change = registry.rollback(args.event_type, module(args.event_type), by=user, reason=args.reason)
        elif command == "shadow":
            change = registry.set_shadow(
                args.event_type, args.version, module(args.event_type), by=user, reason=args.reason
            )
        else:
            change = registry.set_shadow(args.event_type, None, None, by=user, reason=args.reason)
    except ProcessorError as exc:
        print(f"refused: {exc}", file=sys.stderr)
        return 1
    print(
        f"{change.event_type}: {change.action} {change.version or '-'} (was {change.previous or '-'}); "
        f"processors switch within {settings.models.reload_interval_s:g} s, at a batch boundary"
    )
    return 0


def _list(registry: ModelRegistry, types: list[str], as_json: bool) -> int:
    states = registry.states(types)
    rows: list[dict[str, Any]] = []
    for event_type in types:
        state = states[event_type]
        serving = state.active or registry.serving_version(event_type)
        for ref in list_versions(registry.models_dir, event_type):
            try:
                meta = ref.metadata()
            except (OSError, ValueError):
                meta = {}
            metrics = meta.get("metrics", {})
            rows.append(
                {
                    "event_type": event_type,
                    "version": ref.version,
                    "role": "active" if ref.version == serving else ("shadow" if ref.version == state.shadow else ""),
                    "promoted": state.active is not None,
                    "roc_auc": metrics.get("roc_auc"),
                    "pr_auc": metrics.get("pr_auc"),
                    "rows": meta.get("split", {}).get("n_train"),
                }
            )
    if as_json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"{'event type':<22} {'version':<28} {'role':<8} {'roc_auc':>8} {'pr_auc':>8} {'train rows':>10}")
    for r in rows:
        role = r["role"] + ("" if r["role"] != "active" or r["promoted"] else "*")
        print(
            f"{r['event_type']:<22} {r['version']:<28} {role:<8} {_num(r['roc_auc']):>8} {_num(r['pr_auc']):>8} "
            f"{r['rows'] if r['rows'] is not None else '-':>10}"
        )
    if any(r["role"] == "active" and not r["promoted"] for r in rows):
        print("* nothing promoted for this type: the newest artifact serves")
    return 0


def _show(registry: ModelRegistry, event_type: str, version: str, as_json: bool) -> int:
    ref = find_artifact(registry.models_dir, event_type, version)
    try:
        verify_artifact(ref)
        integrity = "checksums OK"
    except ProcessorError as exc:
        integrity = f"FAILED: {exc}"
    meta = ref.metadata()
    if as_json:
        print(json.dumps({"integrity": integrity, "metadata": meta}, indent=2))
        return 0
    split, data = meta.get("split", {}), meta.get("data", {})
    print(f"{event_type} {version}  ({integrity})")
    print(f"  created {meta.get('created_at')} by code {meta.get('code_version')}, path {ref.path}")
    print(
        f"  data {data.get('source', data.get('events_file'))} sha256 {str(data.get('sha256'))[:16]}..., "
        f"{data.get('first_occurred_at')} .. {data.get('last_occurred_at')}"
    )
    print(
        f"  split {split.get('method')}: train {split.get('n_train')} rows until {split.get('train_until')}, "
        f"valid {split.get('n_valid')} rows from {split.get('valid_from')}"
    )
    baselines = meta.get("baselines", {"class_prior": meta.get("baseline_metrics", {})})
    print(f"  {'':<22} {'roc_auc':>8} {'pr_auc':>8} {'log_loss':>9} {'brier':>8}")
    for name, m in [(f"model ({meta.get('model_kind', 'lightgbm')})", meta.get("metrics", {})), *baselines.items()]:
        print(
            f"  {name:<22} {_num(m.get('roc_auc')):>8} {_num(m.get('pr_auc')):>8} {_num(m.get('log_loss')):>9} "
            f"{_num(m.get('brier')):>8}"
        )
    for w in meta.get("warnings", []):
        print(f"  warning: {w}")
    return 0


def _num(value: Any) -> str:
    return f"{value:.3f}" if isinstance(value, int | float) else "-"
