"""``make bench``: how fast the processor is, beside the limit of this broker and machine and
beside the naive design, and whether it meets its targets.

For each repetition a fresh topic gets the same generated events (realistic mix, 5% duplicates,
10% out of order, 1% bad). Three contenders (``bench.contenders``), each in its own process so CPU
time and peak RSS are its own: ``limit`` (a transactional passthrough), ``processor`` (the real
loop) and ``naive`` (the same stages one message at a time). The limit runs on at least
``--limit-events`` (200,000): on a short topic its fixed costs (group join, first fetch) would
dominate and flatter every ratio.

Throughput is inputs divided by the time from the first consumed input to the last commit (the
median over repetitions; every run is printed and kept in the results file). Ratios are taken
between medians of the same invocation, never across runs on a shared machine. Also reported:
CPU seconds per 1,000 events, peak RSS, Redis memory per event (``bench.redis_memory``: the
``used_memory`` delta of a processor run on a Redis of its own, over the events), and end-to-end
latency of ``processor run`` at half the processor's median throughput (``bench.latency``: from
each event's scheduled send time, every input accounted for).

The targets are printed met or not met. The run exits non-zero when any input of the latency run
is unaccounted for (no output, two outputs, a duplicate answered) or a contender handled fewer
inputs than it was given: a figure built on missing events is not a figure. ``--soak`` instead
runs ``bench.soak`` (peak RSS of ``processor run`` at 100k and 1M events).
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
from bench.latency import failures, measure_latency
from bench.redis_memory import private_redis, used_memory
from processor.config import PROJECT_ROOT, Settings, load_settings
from processor.devtools.simulate import FaultMix, produce_to_kafka, simulate
from processor.kafka.admin import create_topics

MIX = FaultMix(
    duplicate=0.05, out_of_order=0.10, malformed_json=0.004, corrupt_bytes=0.003, wrong_type=0.003, avro_share=0.25
)

#: What issue 20 asks of the processor (``make bench`` prints each one met or not met).
TARGETS = {
    "processor/limit": (">=", 0.3),
    "processor/naive": (">=", 10.0),
    "p99_ms at half load": ("<=", 250.0),
    "unanswered": ("<=", 0.0),
    "processor run peak RSS MB": ("<=", 250.0),
    "Redis bytes per event": ("<=", 150.0),
}


def state_shards(events: int) -> int:
    """Dedupe and history shards for a run of ``events``, by docs/capacity.md's rule: the events of
    one TTL (here the whole run) over 256, so each hash holds about half of what keeps it compact."""
    return max(16, events // 256)


def _settings(run: str, partitions: int, redis_url: str | None = None, shards: int = 4_096) -> Settings:
    return load_settings(
        project_dir=PROJECT_ROOT,  # the repository's example project, from wherever this runs
        kafka={"group_id": f"bench-{run}", "transactional_id": f"bench-{run}"},
        redis={"key_prefix": f"bench:{run}:", **({"url": redis_url} if redis_url else {})},
        processing={"dedupe_shards": shards, "history_shards": shards},
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


def _contender(
    name: str, run: str, events: int, partitions: int, shards: int, redis_url: str | None = None
) -> dict[str, Any]:
    """Run one contender in a child process on a prepared topic; its result as a dict."""
    command = [sys.executable, "-m", "bench.run", "--contender", name, "--run", run, "--events", str(events)]
    command += ["--partitions", str(partitions), "--state-shards", str(shards)]
    if redis_url:
        command += ["--redis-url", redis_url]
    out = subprocess.run(command, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"{name} failed:\n{out.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    if result["events"] < events:
        raise RuntimeError(f"{name} handled {result['events']} of {events} inputs")
    result["events_per_s"] = result["events"] / result["seconds"] if result["seconds"] > 0 else 0.0
    return result


def _prepared(run: str, partitions: int, shards: int, messages: list[Any], redis_url: str | None = None) -> Settings:
    settings = _settings(run, partitions, redis_url, shards)
    create_topics(settings)
    report = produce_to_kafka(messages, topic=settings.topics.raw, client_config=settings.kafka.client_config())
    if report.errors:
        raise RuntimeError(f"could not produce the bench input: {report.errors[:3]}")
    return settings


def _redis_bytes_per_event(partitions: int, shards: int, messages: list[Any]) -> dict[str, Any]:
    """One more processor run, on a Redis of its own: its ``used_memory`` delta over the events."""
    from processor.state.redis_client import connect

    with private_redis() as url:
        run = f"mem-{uuid.uuid4().hex[:6]}"
        settings = _prepared(run, partitions, shards, messages, url)
        client = connect(settings.redis)
        before = used_memory(client)
        result = _contender("processor", run, len(messages), partitions, shards, url)
        after = used_memory(client)
        client.close()
    return {
        "redis": "private" if url else "shared",
        "used_memory_before": before,
        "used_memory_after": after,
        "events": result["events"],
        "bytes_per_event": (after - before) / result["events"],
    }


def verdicts(measured: dict[str, float]) -> dict[str, dict[str, Any]]:
    """Each target with its figure and whether it is met."""
    out = {}
    for name, (op, bound) in TARGETS.items():
        value = measured[name]
        met = value >= bound if op == ">=" else value <= bound
        out[name] = {"value": value, "target": f"{op} {bound:g}", "met": met}
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--limit-events", type=int, default=200_000, help="the limit runs on at least this many")
    parser.add_argument("--repetitions", type=int, default=3)
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--latency-seconds", type=float, default=20.0, help="length of the fixed-load latency run")
    parser.add_argument("--json", type=Path, default=PROJECT_ROOT / "bench" / "results.json")
    parser.add_argument("--soak", action="store_true", help="peak RSS of `processor run` at 100k and 1M events")
    parser.add_argument("--soak-events", type=int, default=1_000_000)
    parser.add_argument("--soak-checkpoint", type=int, default=100_000)
    parser.add_argument("--contender", choices=sorted(CONTENDERS), help=argparse.SUPPRESS)
    parser.add_argument("--run", help=argparse.SUPPRESS)
    parser.add_argument("--redis-url", help=argparse.SUPPRESS)
    parser.add_argument("--state-shards", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.contender:  # a child process: one contender on one prepared topic
        settings = _settings(args.run, args.partitions, args.redis_url, args.state_shards or 4_096)
        print(json.dumps(CONTENDERS[args.contender](settings, args.events)))
        return 0

    # the processor must run with its models, not fall back: train what is missing, as the demo does
    # (imported here, not at the top: the contenders' own processes must not carry the trainer)
    from processor.devtools.demo import ensure_models

    ensure_models(load_settings(project_dir=PROJECT_ROOT))
    if args.soak:
        from bench.soak import soak

        soaked = soak(
            _settings(f"soak-{uuid.uuid4().hex[:6]}", args.partitions, shards=state_shards(args.soak_events)),
            MIX,
            args.json.with_name("soak.json"),
            total=args.soak_events,
            checkpoint=args.soak_checkpoint,
        )
        ratio = soaked["ratio"]
        print(
            f"soak: peak RSS of processor run {soaked['peak_rss_mb_at_checkpoint']:.0f} MB at "
            f"{args.soak_checkpoint:,} events, {soaked['peak_rss_mb_at_total']:.0f} MB at {args.soak_events:,}: "
            f"ratio {ratio:.3f} (target <= 1.1: {'met' if ratio <= 1.1 else 'NOT MET'}); "
            f"peak <= 250 MB: {'met' if soaked['peak_rss_mb_at_total'] <= 250 else 'NOT MET'}"
        )
        return 0

    shards = state_shards(args.events)
    messages = simulate(args.events, seed=42, faults=MIX, span_s=600.0)
    limit_count = max(args.limit_events, len(messages))
    # the longer limit topic: the same generator, the same event-time density
    limit_messages = (
        messages
        if limit_count == len(messages)
        else simulate(limit_count, seed=42, faults=MIX, span_s=600.0 * limit_count / args.events)
    )
    results: dict[str, list[dict[str, Any]]] = {name: [] for name in ("limit", "processor", "naive")}
    for rep in range(args.repetitions):
        for name in results:
            run = f"{name[:3]}{rep}-{uuid.uuid4().hex[:6]}"
            inputs = limit_messages if name == "limit" else messages
            _prepared(run, args.partitions, shards, inputs)
            result = _contender(name, run, len(inputs), args.partitions, shards)
            results[name].append(result)
            print(
                f"rep {rep + 1} {name:<9} {result['events_per_s']:>9,.0f} events/s  ({result['events']:,} events)",
                flush=True,
            )

    table: dict[str, dict[str, float]] = {}
    for name, runs in results.items():
        rates = [r["events_per_s"] for r in runs]
        table[name] = {
            "events": runs[0]["events"],
            "events_per_s": statistics.median(rates),
            "events_per_s_min": min(rates),
            "events_per_s_max": max(rates),
            "cpu_s_per_1000": statistics.median(1000 * r["cpu_s"] / r["events"] for r in runs),
            "peak_rss_mb": max(r["peak_rss_mb"] for r in runs),
        }

    print("Redis memory: one more processor run on a Redis of its own ...", flush=True)
    memory = _redis_bytes_per_event(args.partitions, shards, messages)

    # latency at half the processor's maximum: a live `processor run` fed at a steady rate
    rate = table["processor"]["events_per_s"] / 2
    # the same event-time density as the throughput runs (600 s of event time per 20,000 events):
    # the reorder stage holds an event until allowed_lateness_ms of *event* time has passed it,
    # which is allowed_lateness_ms / (event-time speed) of wall time (see the README)
    count = int(rate * args.latency_seconds)
    live = simulate(count, seed=43, faults=MIX, span_s=count * 600.0 / args.events)
    run = f"lat-{uuid.uuid4().hex[:6]}"
    settings = _settings(run, args.partitions, shards=shards)
    create_topics(settings)
    print(f"latency: {len(live)} events at {rate:,.0f} events/s ...", flush=True)
    latency = measure_latency(settings, live, rate)

    ratios = {
        "processor/limit": table["processor"]["events_per_s"] / table["limit"]["events_per_s"],
        "processor/naive": table["processor"]["events_per_s"] / table["naive"]["events_per_s"],
    }
    targets = verdicts(
        {
            **ratios,
            "p99_ms at half load": latency["p99_ms"],
            "unanswered": latency["unanswered"],
            "processor run peak RSS MB": latency["processor_run_peak_rss_mb"],
            "Redis bytes per event": memory["bytes_per_event"],
        }
    )

    print(f"\n{'':<10} {'events':>8} {'events/s':>10} {'(min-max)':>17} {'CPU s/1k':>9} {'peak RSS MB':>12}")
    for name, row in table.items():
        spread = f"{row['events_per_s_min']:,.0f}-{row['events_per_s_max']:,.0f}"
        print(
            f"{name:<10} {row['events']:>8,.0f} {row['events_per_s']:>10,.0f} {spread:>17} "
            f"{row['cpu_s_per_1000']:>9.3f} {row['peak_rss_mb']:>12.0f}"
        )
    print("limit runs: " + ", ".join(f"{r['events_per_s']:,.0f}" for r in results["limit"]) + " events/s")
    print(
        f"Redis: {memory['bytes_per_event']:.0f} bytes per event (used_memory delta "
        f"{memory['used_memory_after'] - memory['used_memory_before']:,} B over {memory['events']:,} events, "
        f"{memory['redis']} Redis, {shards} dedupe and history shards)"
    )
    print(
        f"latency at {latency['offered_events_per_s']:,.0f} events/s (half of max), from each event's scheduled "
        f"send time, {latency['measured_events']} events: p50 {latency['p50_ms']:.0f} ms, "
        f"p95 {latency['p95_ms']:.0f} ms, p99 {latency['p99_ms']:.0f} ms, max {latency['max_ms']:.0f} ms"
    )
    print(
        f"accounting: {latency['sent']} sent, {latency['expected_answers']} expect an output, "
        f"{latency['answered']} answered, {latency['unanswered']} unanswered, "
        f"{latency['duplicate_outputs']} duplicate outputs, {latency['duplicates_answered']} duplicates answered, "
        f"{latency['undelivered']} undelivered"
    )
    print(
        f"processor/limit = {ratios['processor/limit']:.2f}   processor/naive = {ratios['processor/naive']:.1f}"
        f"   (medians of {args.repetitions} repetitions, one invocation)"
    )
    print("\ntargets:")
    for name, verdict in targets.items():
        mark = "met" if verdict["met"] else "NOT MET"
        print(f"  {name:<28} {verdict['value']:>10.2f}  target {verdict['target']:<8} {mark}")
    problems = failures(latency)
    args.json.write_text(
        json.dumps(
            {
                "events": args.events,
                "limit_events": limit_count,
                "repetitions": args.repetitions,
                "table": table,
                "ratios": ratios,
                "redis_memory": memory,
                "state_shards": shards,
                "latency": latency,
                "targets": targets,
                "failures": problems,
                "runs": results,
            },
            indent=2,
        )
        + "\n"
    )
    if problems:
        print("\nFAILED: " + "; ".join(problems), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
