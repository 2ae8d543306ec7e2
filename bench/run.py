"""``make bench``: how fast the processor is, beside the limit of this broker and machine.

For each repetition a fresh topic gets the same generated events (realistic mix, 5% duplicates,
10% out of order, 1% bad). Two contenders, each in its own process so CPU time and peak RSS are
its own:

- **limit**: a transactional passthrough that consumes the raw topic and produces the same bytes,
  committing offsets in a transaction per batch like the processor, and doing nothing else;
- **processor**: the real processor (every stage on, models loaded, Redis state).

Throughput is inputs divided by the time from the first consumed batch to the last commit
(median over repetitions). Also reported: CPU seconds per 1,000 events, peak RSS, and Redis
memory per deduplicated event (the dedupe marks, measured with MEMORY USAGE on a sample).
This is the first slice of issue 4: the naive contender and latency at fixed load come next.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, Producer, TopicPartition

from processor.config import PROJECT_ROOT, Settings, load_pipelines, load_settings
from processor.kafka.admin import create_topics
from processor.simulate import FaultMix, produce_to_kafka, simulate

MIX = FaultMix(
    duplicate=0.05, out_of_order=0.10, malformed_json=0.004, corrupt_bytes=0.003, wrong_type=0.003, avro_share=0.25
)


def _settings(run: str, partitions: int) -> Settings:
    return load_settings(
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


def _usage() -> dict[str, float]:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return {"cpu_s": ru.ru_utime + ru.ru_stime, "peak_rss_mb": ru.ru_maxrss / 1024}


def run_limit(settings: Settings, count: int) -> dict[str, Any]:
    """Consume, produce the same bytes, commit offsets in one transaction per batch: nothing else."""
    conf = settings.kafka.client_config()
    consumer = Consumer(
        {
            **conf,
            "group.id": settings.kafka.group_id + "-limit",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "isolation.level": "read_committed",
        }
    )
    producer = Producer(
        {
            **conf,
            "transactional.id": settings.kafka.group_id + "-limit",
            "linger.ms": 5,
            "compression.type": "lz4",
            "partitioner": "murmur2_random",
        }
    )
    producer.init_transactions(30)
    consumer.subscribe([settings.topics.raw])
    before = _usage()
    seen, first, last = 0, None, None
    while seen < count:
        batch = consumer.consume(settings.processing.batch_size, settings.processing.batch_timeout_ms / 1000)
        batch = [m for m in batch if m.error() is None]
        if not batch:
            continue
        first = first or time.monotonic()
        producer.begin_transaction()
        positions: dict[int, int] = {}
        for m in batch:
            producer.produce(settings.topics.scored, m.value(), m.key())
            positions[m.partition()] = m.offset() + 1
        producer.send_offsets_to_transaction(
            [TopicPartition(settings.topics.raw, p, o) for p, o in positions.items()],
            consumer.consumer_group_metadata(),
            30,
        )
        producer.commit_transaction(30)
        seen += len(batch)
        last = time.monotonic()
    consumer.close()
    after = _usage()
    elapsed = (last or 0) - (first or 0)
    return {
        "events": seen,
        "seconds": elapsed,
        "cpu_s": after["cpu_s"] - before["cpu_s"],
        "peak_rss_mb": after["peak_rss_mb"],
    }


def run_processor(settings: Settings, count: int) -> dict[str, Any]:
    from processor.app import Processor

    processor = Processor(settings, load_pipelines(settings.pipelines_file))
    before = _usage()
    summary = processor.run(max_idle_s=4.0)
    after = _usage()
    elapsed = (summary.last_output or 0) - (summary.first_input or 0)
    return {
        "events": summary.inputs,
        "seconds": elapsed,
        "cpu_s": after["cpu_s"] - before["cpu_s"],
        "peak_rss_mb": after["peak_rss_mb"],
    }


def _dedupe_bytes_per_event(settings: Settings) -> float:
    from processor.state.redis_client import connect

    client = connect(settings.redis)
    keys = [
        k
        for _, k in zip(range(500), client.scan_iter(match=f"{settings.redis.key_prefix}d:*", count=1000), strict=False)
    ]
    sizes = [client.memory_usage(k, samples=0) or 0 for k in keys]
    return statistics.mean(sizes) if sizes else 0.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--repetitions", type=int, default=3)
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--json", type=Path, default=PROJECT_ROOT / "bench" / "results.json")
    parser.add_argument("--contender", choices=["limit", "processor"], help=argparse.SUPPRESS)
    parser.add_argument("--run", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.contender:  # a child process: one contender on one prepared topic
        settings = _settings(args.run, args.partitions)
        result = run_limit(settings, args.events) if args.contender == "limit" else run_processor(settings, args.events)
        if args.contender == "processor":
            result["redis_bytes_per_dedupe_mark"] = _dedupe_bytes_per_event(settings)
        print(json.dumps(result))
        return 0

    messages = simulate(args.events, seed=42, faults=MIX, span_s=600.0)
    results: dict[str, list[dict[str, Any]]] = {"limit": [], "processor": []}
    for rep in range(args.repetitions):
        for contender in ("limit", "processor"):
            run = f"{contender[:3]}{rep}-{uuid.uuid4().hex[:6]}"
            settings = _settings(run, args.partitions)
            create_topics(settings)
            produce_to_kafka(messages, topic=settings.topics.raw, client_config=settings.kafka.client_config())
            out = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "bench.run",
                    "--contender",
                    contender,
                    "--run",
                    run,
                    "--events",
                    str(len(messages)),
                    "--partitions",
                    str(args.partitions),
                ],
                capture_output=True,
                text=True,
                check=True,
            )
            result = json.loads(out.stdout.strip().splitlines()[-1])
            result["events_per_s"] = result["events"] / result["seconds"] if result["seconds"] > 0 else 0.0
            results[contender].append(result)
            print(f"rep {rep + 1} {contender:<9} {result['events_per_s']:>9,.0f} events/s", flush=True)

    table = {}
    for contender, runs in results.items():
        table[contender] = {
            "events_per_s": statistics.median(r["events_per_s"] for r in runs),
            "cpu_s_per_1000": statistics.median(1000 * r["cpu_s"] / r["events"] for r in runs),
            "peak_rss_mb": max(r["peak_rss_mb"] for r in runs),
        }
    table["processor"]["redis_bytes_per_dedupe_mark"] = statistics.median(
        r["redis_bytes_per_dedupe_mark"] for r in results["processor"]
    )
    ratio = table["processor"]["events_per_s"] / table["limit"]["events_per_s"]
    print(f"\n{'':<10} {'events/s':>10} {'CPU s/1k':>9} {'peak RSS MB':>12}")
    for contender, row in table.items():
        print(
            f"{contender:<10} {row['events_per_s']:>10,.0f} {row['cpu_s_per_1000']:>9.3f} {row['peak_rss_mb']:>12.0f}"
        )
    print(f"Redis memory per dedupe mark: {table['processor']['redis_bytes_per_dedupe_mark']:.0f} bytes")
    print(f"processor/limit = {ratio:.2f}   ({args.events} events, {args.repetitions} repetitions, medians)")
    args.json.write_text(json.dumps({"table": table, "ratio_processor_limit": ratio, "runs": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
