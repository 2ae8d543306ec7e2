"""``make scale-test``: the three failover scenarios on the local clusters, one line of figures each."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from helpers.results import write_results
from helpers.streams import StreamFailed
from processor.config import PROJECT_ROOT
from scale.harness import SCENARIOS, ScaleConfig, run_scenario

RESULTS = PROJECT_ROOT / "docs" / "results" / "scale.json"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=30_000, help="events per scenario")
    parser.add_argument("--rate", type=int, default=1_000, help="events per second of the stream")
    parser.add_argument("--partitions", type=int, default=12)
    parser.add_argument("--scenario", choices=SCENARIOS, action="append", help="run only these (repeatable)")
    parser.add_argument("--log-dir", type=Path, default=Path("/tmp"))
    parser.add_argument("--results", type=Path, default=RESULTS, help="where the figures are written (JSON)")
    args = parser.parse_args()
    config = ScaleConfig(events=args.events, rate=args.rate, partitions=args.partitions, log_dir=args.log_dir)
    results = []
    for name in args.scenario or SCENARIOS:
        try:
            result = run_scenario(name, config)
        except StreamFailed as exc:
            print(f"{name}: FAILED: {exc}", flush=True)
            runs = [{"line": r.line(), "ok": r.ok} for r in results] + [{"line": f"{name} FAILED: {exc}", "ok": False}]
            write_results(args.results, "make scale-test", vars(args), runs)
            return 1
        for line in result.log:
            print(line)
        for problem in result.problems():
            print(f"{name}: PROBLEM: {problem}")
        print(result.line(), flush=True)
        results.append(result)
    print("\n".join(["", "scale-test figures:", *(r.line() for r in results)]))
    write_results(args.results, "make scale-test", vars(args), [{"line": r.line(), "ok": r.ok} for r in results])
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
