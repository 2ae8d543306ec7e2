"""``make chaos``: the full chaos suite, printing one line of figures."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from chaos.harness import ChaosConfig, run_chaos
from helpers.results import write_results
from helpers.streams import StreamFailed
from processor.config import PROJECT_ROOT

RESULTS = PROJECT_ROOT / "docs" / "results" / "chaos.json"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--processors", type=int, default=3)
    parser.add_argument("--partitions", type=int, default=12)
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--redis-restarts", type=int, default=2)
    parser.add_argument("--redis-pause", type=float, default=30.0)
    parser.add_argument("--broker-restarts", type=int, default=1)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--log-dir", type=Path, default=Path("/tmp"))
    parser.add_argument("--results", type=Path, default=RESULTS, help="where the figures are written (JSON)")
    args = parser.parse_args()
    try:
        result = run_chaos(
            ChaosConfig(
                processors=args.processors,
                partitions=args.partitions,
                events=args.events,
                kills=args.kills,
                redis_restarts=args.redis_restarts,
                redis_pause_s=args.redis_pause,
                broker_restarts=args.broker_restarts,
                seed=args.seed,
                log_dir=args.log_dir,
            )
        )
    except StreamFailed as exc:
        print(f"FAILED: {exc}")
        write_results(args.results, "make chaos", vars(args), [{"line": f"FAILED: {exc}", "ok": False}])
        return 1
    for line in result.log:
        print(line)
    for problem in result.problems():
        print("PROBLEM:", problem)
    print(result.line(), "OK" if result.ok else "FAILED")
    write_results(args.results, "make chaos", vars(args), [{"line": result.line(), "ok": result.ok}])
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
