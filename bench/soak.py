"""``python -m bench.run --soak``: does ``processor run`` hold its memory flat over a long run?

A fresh topic gets ``total`` generated events (one million by default), written chunk by chunk
(each chunk continues the event time of the one before, so the reorder stage sees one long
stream, not late copies). Then one real ``processor run`` process (the CLI, with the environment
the bench was started with, ``MALLOC_ARENA_MAX`` included) works through it while this process
samples its resident set (``/proc/PID/status``) and the group's committed offsets once a second.

Reported: the peak RSS (VmHWM) when the committed offsets first reach ``checkpoint`` events and
when they reach ``total``, and their ratio. The target is at most 1.1: a process whose memory
grows with the events it has seen will eventually be killed, however fast it is.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, TopicPartition

from bench.latency import peak_rss_mb
from processor.config import Settings, settings_to_env
from processor.devtools.simulate import FaultMix, produce_to_kafka, simulate
from processor.kafka.admin import create_topics

_CHUNK = 100_000
_SAMPLE_S = 1.0
#: The event time one chunk spans: the throughput bench's density (600 s per 20,000 events).
_CHUNK_SPAN_S = 600.0 * _CHUNK / 20_000


def _produce(settings: Settings, total: int, faults: FaultMix) -> None:
    start_ms = int(time.time() * 1000) - int(_CHUNK_SPAN_S * 1000 * (total // _CHUNK + 1))
    for k, first in enumerate(range(0, total, _CHUNK)):
        count = min(_CHUNK, total - first)
        messages = simulate(
            count, seed=1000 + k, faults=faults, start_ms=start_ms + int(k * _CHUNK_SPAN_S * 1000), span_s=_CHUNK_SPAN_S
        )
        report = produce_to_kafka(messages, topic=settings.topics.raw, client_config=settings.kafka.client_config())
        if report.errors:
            raise RuntimeError(f"could not produce the soak input: {report.errors[:3]}")
        print(f"soak: produced {first + count:,} of {total:,}", flush=True)


def _committed(consumer: Consumer, settings: Settings) -> int:
    parts = [TopicPartition(settings.topics.raw, p) for p in range(settings.topics.raw_partitions)]
    return sum(max(tp.offset, 0) for tp in consumer.committed(parts, timeout=10))


def _rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def soak(
    settings: Settings, faults: FaultMix, out: Path, total: int = 1_000_000, checkpoint: int = 100_000
) -> dict[str, Any]:
    create_topics(settings)
    _produce(settings, total, faults)
    watcher = Consumer({**settings.kafka.client_config(), "group.id": settings.kafka.group_id})
    proc = subprocess.Popen(
        [sys.executable, "-m", "processor", "run"],
        env={**{k: v for k, v in os.environ.items() if not k.startswith("PROCESSOR_")}, **settings_to_env(settings)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    samples: list[dict[str, float]] = []
    at_checkpoint: float | None = None
    started = time.monotonic()
    try:
        done = 0
        while done < total:
            if proc.poll() is not None:
                raise RuntimeError(f"processor run exited with {proc.returncode} after {done:,} events")
            time.sleep(_SAMPLE_S)
            done = _committed(watcher, settings)
            peak = peak_rss_mb(proc.pid)
            samples.append(
                {"s": time.monotonic() - started, "events": done, "rss_mb": _rss_mb(proc.pid), "hwm_mb": peak}
            )
            if at_checkpoint is None and done >= checkpoint:
                at_checkpoint = peak
            if len(samples) % 15 == 0:
                print(
                    f"soak: {done:,} events committed, RSS {samples[-1]['rss_mb']:.0f} MB, peak {peak:.0f} MB",
                    flush=True,
                )
        at_total = peak_rss_mb(proc.pid)
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
        watcher.close()
    result = {
        "events": total,
        "checkpoint": checkpoint,
        "peak_rss_mb_at_checkpoint": at_checkpoint,
        "peak_rss_mb_at_total": at_total,
        "ratio": at_total / at_checkpoint if at_checkpoint else float("nan"),
        "malloc_arena_max": os.environ.get("MALLOC_ARENA_MAX"),
        "seconds": time.monotonic() - started,
        "samples": samples,
    }
    out.write_text(json.dumps(result, indent=2) + "\n")
    return result
