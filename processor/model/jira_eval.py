"""``make eval``: the jira_ticket_created urgency model on the real Apache Hadoop tickets, held out by time.

The 2,503 tickets of ``data/jira-hadoop/hadoop_bugs.csv`` (GitBugs, CC BY 4.0, see its NOTICE.md)
are replayed as ``jira_ticket_created`` events at their real creation times, through the same
decode, validation and feature code the processor serves with. The label is urgency (priority
Blocker or Critical); the priority itself is not a feature. The newest 20% of tickets are held
out; the model and both baselines (class prior, logistic regression) are trained in this one run
and measured on the same held-out tickets.

The data ends in December 2024, so the stale-data guard is overridden here, on purpose and
recorded in the artifact: this is a fixed benchmark, not a model meant to serve today's tickets.
The artifact lands in the model store like any other (``processor model promote`` can serve it).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from processor.config import load_pipelines, load_settings
from processor.errors import ConfigError
from processor.model.progress import Progress
from processor.model.training import REPORT_FILE, Guards, metrics_table, train_model
from processor.simulate import FaultMix, load_tickets, simulate, write_jsonl
from processor.simulate.jira_dataset import DEFAULT_CSV, EVENT_TYPE, NOTICE_FILE


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m processor.model.jira_eval", description=__doc__)
    parser.add_argument("--csv", type=Path, default=DEFAULT_CSV)
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    settings = load_settings()
    pipelines = load_pipelines(settings.pipelines_file)
    try:
        tickets = load_tickets(args.csv)
    except (OSError, ValueError) as exc:
        print(f"cannot read {args.csv}: {exc}", file=sys.stderr)
        return 2
    messages = simulate(len(tickets), seed=1, types=(EVENT_TYPE,), faults=FaultMix.none())
    with tempfile.TemporaryDirectory(prefix="jira-eval-") as tmp:
        report = write_jsonl(Path(tmp) / "hadoop_tickets.jsonl", messages)
        try:
            result = train_model(
                event_type=EVENT_TYPE,
                events_path=report.events_path,
                labels_path=report.labels_path,
                settings=settings,
                pipelines=pipelines,
                guards=Guards(allow_stale=True),  # a fixed 2020-2024 benchmark: see the module docstring
                progress=Progress.silent() if args.quiet else Progress.to_stderr(),
            )
        except ConfigError as exc:
            print(f"training refused: {exc}", file=sys.stderr)
            return 2
    d = result.data
    lr = result.baselines["logistic_regression"]
    m = result.metrics
    print()
    print(f"jira_ticket_created urgency model on {len(tickets)} real Apache Hadoop tickets ({args.csv.name})")
    print(f"label: urgent = priority Blocker or Critical ({d.positives} of {d.labelled}); priority is not a feature")
    print(
        f"time split: train {result.n_train} tickets {result.train_range[0]:%Y-%m-%d} .. "
        f"{result.train_range[1]:%Y-%m-%d}, held out {result.n_valid} newer tickets "
        f"{result.valid_range[0]:%Y-%m-%d} .. {result.valid_range[1]:%Y-%m-%d}"
    )
    print()
    print(metrics_table(m, result.baselines))
    print()
    held_out_positives = round(result.n_valid * m["positive_rate"])
    print(
        f"LightGBM against the logistic regression ({held_out_positives} urgent tickets held out: small gaps are noise):"
    )
    for name, higher_is_better in (("roc_auc", True), ("pr_auc", True), ("log_loss", False), ("brier", False)):
        better = m[name] > lr[name] if higher_is_better else m[name] < lr[name]
        print(f"  {name:<9} {m[name]:.4f} vs {lr[name]:.4f}: {'LightGBM better' if better else 'LightGBM NOT better'}")
    print(f"artifact {result.artifact.version}: {result.artifact.path}")
    print(f"report:   {result.artifact.path / REPORT_FILE}")
    print(f"data: {NOTICE_FILE.relative_to(NOTICE_FILE.parents[2])} (CC BY 4.0, GitBugs, arXiv:2504.09651)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
