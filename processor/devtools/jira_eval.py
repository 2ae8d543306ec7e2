"""``make eval``: which jira_ticket_created urgency model to serve, decided on real Apache Hadoop tickets.

The 2,503 tickets of ``data/jira-hadoop/hadoop_bugs.csv`` (GitBugs, CC BY 4.0, see its NOTICE.md)
are replayed as ``jira_ticket_created`` events at their real creation times, through the same
decode, validation and feature code the processor serves with. The label is urgency (priority
Blocker or Critical); the priority itself is not a feature, nor is the reporter count (the CSV
has no reporter: the simulator invents one, see ``processor.features.jira_ticket_urgency``).

The protocol is ``processor.training.rolling``'s: five consecutive time folds (train on everything
before a fold, score the fold), hyper-parameters chosen on inner folds of each training part only,
and a winner declared on the folds (lowest mean log loss) before the newest 15%, which nothing was
chosen on, is scored once. The winner is trained on everything before that slice with the
hyper-parameters chosen on it and saved to the model store like any other artifact, of the
winner's kind (LightGBM or logistic regression); the pipeline's ``model`` must name that kind,
or the run fails. Everything printed is also written to ``docs/results/jira_eval.json``.

The data ends in December 2024, so the stale-data guard is overridden here, on purpose and
recorded in the artifact: this is a fixed benchmark, not a model meant to serve today's tickets.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from processor.config import PROJECT_ROOT, load_pipelines, load_settings
from processor.devtools.simulate import FaultMix, load_tickets, simulate, write_jsonl
from processor.devtools.simulate.jira_dataset import DEFAULT_CSV, EVENT_TYPE, NOTICE_FILE
from processor.errors import ConfigError
from processor.training import rolling
from processor.training.progress import Progress
from processor.training.training import MODEL_LABELS, REPORT_FILE, Guards, load_dataset, metrics_table, train_model

RESULTS_FILE = PROJECT_ROOT / "docs" / "results" / "jira_eval.json"
#: Features of the CSV-derived events left out of this evaluation because the data set has no source
#: for them (the simulator invents them); the urgency feature module leaves them out too.
SYNTHETIC_FEATURES = ("tickets_same_reporter_30d",)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m processor.devtools.jira_eval", description=__doc__)
    parser.add_argument("--csv", type=Path, default=DEFAULT_CSV)
    parser.add_argument("--results", type=Path, default=RESULTS_FILE, help="where the figures are written (JSON)")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    args = parser.parse_args(argv)
    started = time.monotonic()
    settings = load_settings()
    pipelines = load_pipelines(settings.pipelines_file)
    progress = Progress.silent() if args.quiet else Progress.to_stderr()
    try:
        tickets = load_tickets(args.csv)
        csv_sha256 = hashlib.sha256(args.csv.read_bytes()).hexdigest()
    except (OSError, ValueError) as exc:
        print(f"cannot read {args.csv}: {exc}", file=sys.stderr)
        return 2
    messages = simulate(len(tickets), seed=1, types=(EVENT_TYPE,), faults=FaultMix.none())
    protocol = rolling.Protocol()
    with tempfile.TemporaryDirectory(prefix="jira-eval-") as tmp:
        files = write_jsonl(Path(tmp) / "hadoop_tickets.jsonl", messages)
        data = load_dataset(
            event_type=EVENT_TYPE,
            events_path=files.events_path,
            labels_path=files.labels_path,
            settings=settings,
            pipelines=pipelines,
        )
        leaked = [f for f in SYNTHETIC_FEATURES if f in data.feature_names]
        if leaked:
            print(f"synthetic features {leaked} are in {data.feature_module}: real features only", file=sys.stderr)
            return 2
        folds = rolling.evaluate(data.features, data.target, data.times, protocol, progress=progress.stage)
        assert folds.final_choice is not None
        progress.stage(f"the winner on the folds: {folds.winner}; training it on every row before the final slice")
        try:
            final = train_model(
                event_type=EVENT_TYPE,
                events_path=files.events_path,
                labels_path=files.labels_path,
                settings=settings,
                pipelines=pipelines,
                valid_fraction=protocol.final_fraction,
                seed=protocol.seed,
                guards=Guards(allow_stale=True),  # a fixed 2020-2024 benchmark: see the module docstring
                progress=progress,
                model_kind=folds.winner,
                preset=folds.final_choice.preset(),
            )
        except ConfigError as exc:
            print(f"training refused: {exc}", file=sys.stderr)
            return 2
    if final.n_train != folds.final_start:
        raise AssertionError(f"final split at row {final.n_train}, the folds ended at {folds.final_start}")
    final_metrics = {folds.winner: final.metrics, **final.baselines}
    configured = pipelines.event_types[EVENT_TYPE].model
    elapsed = time.monotonic() - started

    d = data.summary
    final_positives = round(final.n_valid * final.metrics["positive_rate"])
    print()
    print(f"jira_ticket_created urgency on {len(tickets)} real Apache Hadoop tickets ({args.csv.name})")
    print(f"label: urgent = priority Blocker or Critical ({d.positives} of {d.labelled}); not features: priority,")
    print(f"and the reporter count ({', '.join(SYNTHETIC_FEATURES)}: the data has no reporters)")
    print(f"{len(data.feature_names)} features: {', '.join(data.feature_names)}")
    print()
    print(
        f"rolling origin: {protocol.folds} folds of {protocol.fold_fraction:.0%} of the rows, each scored by models "
        f"trained on every older row; hyper-parameters from {protocol.inner_folds} inner folds of each training part"
    )
    print(rolling.fold_table(folds))
    print()
    diff = _paired(folds, "lightgbm", "logistic_regression")
    print(
        "lightgbm - logistic_regression, per fold: "
        + "  ".join(f"{m} {v['mean']:+.3f}±{v['std']:.3f}" for m, v in diff.items())
    )
    print(
        f"winner (lowest mean log loss over the folds, declared before the final slice): {folds.winner} "
        f"({MODEL_LABELS[folds.winner]})"
    )
    print()
    print(
        f"final slice, scored once: the newest {final.n_valid} tickets "
        f"{final.valid_range[0]:%Y-%m-%d} .. {final.valid_range[1]:%Y-%m-%d} ({final_positives} urgent); "
        f"trained on the {final.n_train} older ones"
    )
    print(metrics_table(final.metrics, final.baselines, MODEL_LABELS[folds.winner]))
    print()
    print(f"served: {final.artifact.event_type} {final.artifact.version} ({folds.winner}) at {final.artifact.path}")
    print(f"report: {final.artifact.path / REPORT_FILE}")
    print(f"figures: {_shown(args.results)}")
    print(f"data: {NOTICE_FILE.relative_to(NOTICE_FILE.parents[2])} (CC BY 4.0, GitBugs, arXiv:2504.09651)")

    results = {
        "command": "make eval",
        "generated_at": datetime.now(UTC).replace(microsecond=0).isoformat(),
        "elapsed_s": round(elapsed, 1),
        "data": {
            "csv": _shown(args.csv),
            "csv_sha256": csv_sha256,
            "tickets": len(tickets),
            "labelled": d.labelled,
            "urgent": d.positives,
            "first": d.first_occurred_at.isoformat() if d.first_occurred_at else None,
            "last": d.last_occurred_at.isoformat() if d.last_occurred_at else None,
        },
        "label": "urgent = priority Blocker or Critical",
        "feature_module": data.feature_module,
        "features": list(data.feature_names),
        "excluded_features": {"priority_code": "the label itself", **dict.fromkeys(SYNTHETIC_FEATURES, "synthetic")},
        "protocol": {
            "folds": protocol.folds,
            "fold_fraction": protocol.fold_fraction,
            "final_fraction": protocol.final_fraction,
            "inner_folds": protocol.inner_folds,
            "inner_fraction": protocol.inner_fraction,
            "seed": protocol.seed,
            "winner_rule": "lowest mean log loss over the folds; a tie within 1e-4 goes to logistic_regression",
        },
        "folds": [
            {
                "fold": f.index,
                "train_rows": f.train_rows,
                "rows": f.stop - f.start,
                "urgent": f.positives,
                "from": _day(data.times[f.start]),
                "until": _day(data.times[f.stop - 1]),
                "chosen": f.choice.as_dict(),
                "metrics": _rounded(f.metrics),
            }
            for f in folds.folds
        ],
        "summary": _rounded(folds.summary),
        "paired_lightgbm_minus_logistic_regression": _rounded(diff),
        "winner": folds.winner,
        "final_slice": {
            "rows": final.n_valid,
            "urgent": final_positives,
            "from": final.valid_range[0].isoformat(),
            "until": final.valid_range[1].isoformat(),
            "train_rows": final.n_train,
            "chosen": folds.final_choice.as_dict(),
            "metrics": _rounded({k: {m: v[m] for m in rolling.METRICS} for k, v in final_metrics.items()}),
        },
        "served": {"model_kind": folds.winner, "pipelines_yaml_model": configured},
    }
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    if configured != folds.winner:
        print(
            f"the pipeline's model for {EVENT_TYPE} is {configured!r} but the folds chose {folds.winner!r}: "
            f"set `model: {folds.winner}` in {_shown(settings.pipelines_file)}",
            file=sys.stderr,
        )
        return 3
    print(f"pipeline: {EVENT_TYPE} serves model: {configured} (the winner) - {elapsed:.0f}s")
    return 0


def _paired(result: rolling.RollingResult, a: str, b: str) -> dict[str, dict[str, float]]:
    """Per-fold differences a - b: the spread says whether the gap is more than fold-to-fold noise."""
    return {m: rolling.spread([f.metrics[a][m] - f.metrics[b][m] for f in result.folds]) for m in rolling.METRICS}


def _rounded(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 4) if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    return value


def _day(ms: Any) -> str:
    return datetime.fromtimestamp(int(ms) / 1000, tz=UTC).strftime("%Y-%m-%d")


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(PROJECT_ROOT))
    except ValueError:
        return str(path)


if __name__ == "__main__":
    sys.exit(main())
