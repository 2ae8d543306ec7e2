"""``make bench``: how fast the processor is, beside the limit of this broker and machine and
beside the naive design.

For each repetition a fresh topic gets the same generated events (realistic mix, 5% duplicates,
10% out of order, 1% bad). Three contenders (``bench.contenders``), each in its own process so CPU
time and peak RSS are its own: ``limit`` (a transactional passthrough), ``processor`` (the real
loop) and ``naive`` (the same stages one message at a time).

Throughput is inputs divided by the time from the first consumed input to the last commit
(median over repetitions). Also reported: CPU seconds per 1,000 events, peak RSS, Redis memory
per deduplicated event (MEMORY USAGE of a sample of dedupe marks), and the end-to-end latency
percentiles of ``processor run`` at a fixed offered load of half the processor's median
throughput (``bench.latency``). Table on stdout, figures in ``bench/results.json``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

from bench.contenders import CONTENDERS
from bench.latency import measure_latency
from processor.config import PROJECT_ROOT, Settings, load_settings
from processor.kafka.admin import create_topics
from processor.simulate import FaultMix, produce_to_kafka, simulate

MIX = FaultMix(
    duplicate=0.05, out_of_order=0.10, malformed_json=0.004, corrupt_bytes=0.003, wrong_type=0.003, avro_share=0.25
)


def _settings(run: str, partitions: int) -> Settings:
    return load_settings(
        project_dir=PROJECT_ROOT,  # the repository's example project, from wherever this runs
        kafka={"group_id": f"bench-{run}", "transactional_id": f"bench-{run}"},
        redis={"key_prefix": f"bench:{run}:"},
        topics={
            "raw": f"bench.{run}.raw",
            "scored": f"bench.{run}.scored",
            "review": f"bench.{run}.review",
            "quarantine": f"bench.{run}.quarantine",
            "feedback": f"bench.{run}.feedback",
            "raw_partitions": partitions,
            "output_partitions": partitions,
        },
        metrics={"enabled": False},
    )


def _dedupe_bytes_per_event(settings: Settings) -> float:
    from processor.state.redis_client import connect

    client = connect(settings.redis)
    keys = [
        k
        for _, k in zip(range(500), client.scan_iter(match=f"{settings.redis.key_prefix}d:*", count=1000), strict=False)
    ]
    sizes = [client.memory_usage(k, samples=0) or 0 for k in keys]
    return statistics.mean(sizes) if sizes else 0.0


def _contender(name: str, run: str, events: int, partitions: int) -> dict[str, Any]:
    """Run one contender in a child process on a prepared topic; its result as a dict."""
    command = [sys.executable, "-m", "bench.run", "--contender", name, "--run", run, "--events", str(events)]
    out = subprocess.run(
        [*command, "--partitions", str(partitions)],
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:
        raise RuntimeError(f"{name} failed:\n{out.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    result["events_per_s"] = result["events"] / result["seconds"] if result["seconds"] > 0 else 0.0
    return result


def _prepared(run: str, partitions: int, messages: list[Any]) -> Settings:
    settings = _settings(run, partitions)
    create_topics(settings)
    report = produce_to_kafka(messages, topic=settings.topics.raw, client_config=settings.kafka.client_config())
    if report.errors:
        raise RuntimeError(f"could not produce the bench input: {report.errors[:3]}")
    return settings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--repetitions", type=int, default=3)
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--latency-seconds", type=float, default=20.0, help="length of the fixed-load latency run")
    parser.add_argument("--json", type=Path, default=PROJECT_ROOT / "bench" / "results.json")
    parser.add_argument("--contender", choices=sorted(CONTENDERS), help=argparse.SUPPRESS)
    parser.add_argument("--run", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.contender:  # a child process: one contender on one prepared topic
        settings = _settings(args.run, args.partitions)
        result = CONTENDERS[args.contender](settings, args.events)
        if args.contender == "processor":
            result["redis_bytes_per_dedupe_mark"] = _dedupe_bytes_per_event(settings)
        print(json.dumps(result))
        return 0

    # the processor must run with its models, not fall back: train what is missing, as the demo does
    # (imported here, not at the top: the contenders' own processes must not carry the trainer)
    from processor.demo import ensure_models

    ensure_models(load_settings(project_dir=PROJECT_ROOT))
    messages = simulate(args.events, seed=42, faults=MIX, span_s=600.0)
    results: dict[str, list[dict[str, Any]]] = {name: [] for name in ("limit", "processor", "naive")}
    for rep in range(args.repetitions):
        for name in results:
            run = f"{name[:3]}{rep}-{uuid.uuid4().hex[:6]}"
            _prepared(run, args.partitions, messages)
            result = _contender(name, run, len(messages), args.partitions)
            results[name].append(result)
            print(f"rep {rep + 1} {name:<9} {result['events_per_s']:>9,.0f} events/s", flush=True)

    table: dict[str, dict[str, float]] = {}
    for name, runs in results.items():
        table[name] = {
            "events_per_s": statistics.median(r["events_per_s"] for r in runs),
            "cpu_s_per_1000": statistics.median(1000 * r["cpu_s"] / r["events"] for r in runs),
            "peak_rss_mb": max(r["peak_rss_mb"] for r in runs),
        }
    processor = table["processor"]
    processor["redis_bytes_per_dedupe_mark"] = statistics.median(
        r["redis_bytes_per_dedupe_mark"] for r in results["processor"]
    )

    # latency at half the processor's maximum: a live `processor run` fed at a steady rate
    rate = processor["events_per_s"] / 2
    # the same event-time density as the throughput runs (600 s of event time per 20,000 events):
    # the reorder stage holds an event until allowed_lateness_ms of *event* time has passed it,
    # which is allowed_lateness_ms / (event-time speed) of wall time (see the README)
    count = int(rate * args.latency_seconds)
    live = simulate(count, seed=43, faults=MIX, span_s=count * 600.0 / args.events)
    run = f"lat-{uuid.uuid4().hex[:6]}"
    settings = _settings(run, args.partitions)
    create_topics(settings)
    print(f"latency: {len(live)} events at {rate:,.0f} events/s ...", flush=True)
    latency = measure_latency(settings, live, rate)

    ratios = {
        "processor/limit": processor["events_per_s"] / table["limit"]["events_per_s"],
        "processor/naive": processor["events_per_s"] / table["naive"]["events_per_s"],
    }
    print(f"\n{'':<10} {'events/s':>10} {'CPU s/1k':>9} {'peak RSS MB':>12}")
    for name, row in table.items():
        print(f"{name:<10} {row['events_per_s']:>10,.0f} {row['cpu_s_per_1000']:>9.3f} {row['peak_rss_mb']:>12.0f}")
    print(f"Redis memory per dedupe mark: {processor['redis_bytes_per_dedupe_mark']:.0f} bytes")
    print(
        f"latency at {latency['offered_events_per_s']:,.0f} events/s (half of max), {latency['measured_events']} "
        f"events: p50 {latency['p50_ms']:.0f} ms, p95 {latency['p95_ms']:.0f} ms, p99 {latency['p99_ms']:.0f} ms"
    )
    print(
        f"processor/limit = {ratios['processor/limit']:.2f}   processor/naive = {ratios['processor/naive']:.1f}"
        f"   ({args.events} events, {args.repetitions} repetitions, medians, one run)"
    )
    args.json.write_text(
        json.dumps({"table": table, "latency": latency, "ratios": ratios, "runs": results}, indent=2) + "\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
