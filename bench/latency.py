"""End-to-end latency of a running processor at a fixed offered load.

The processor runs as ``processor run`` in a subprocess. Once its consumer group is stable, this
process produces the generated events at a steady rate (paced every few milliseconds) and, on
another thread, reads the three output topics with ``read_committed``, so an output counts when a
downstream consumer can see it, not when it was written. An output names its input by the
lineage headers (``source-partition``, ``source-offset``); its latency is the moment it was read
minus the input's producer timestamp (the same wall clock: one machine).

The first ``warmup_s`` of sends are left out of the percentiles: they carry the group join and the
first model load, which are start-up costs, not steady-state latency.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from typing import Any

from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient

from processor.config import Settings, settings_to_env
from processor.simulate import SimulatedMessage

_PACE_S = 0.005


def _wait_stable(settings: Settings, timeout_s: float = 60.0) -> None:
    admin = AdminClient(settings.kafka.client_config())
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        groups = admin.describe_consumer_groups([settings.kafka.group_id])
        try:
            description = groups[settings.kafka.group_id].result(10)
            if str(description.state).endswith("STABLE") and description.members:
                return
        except Exception:  # not there yet
            pass
        time.sleep(0.25)
    raise TimeoutError(f"consumer group {settings.kafka.group_id} did not become stable in {timeout_s:.0f} s")


class _OutputReader(threading.Thread):
    """Reads every output topic (read_committed); records when each input's output became visible."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(daemon=True)
        conf = settings.kafka.client_config()
        self._consumer = Consumer(
            {
                **conf,
                "group.id": settings.kafka.group_id + "-latency-reader",
                "auto.offset.reset": "earliest",
                "isolation.level": "read_committed",
                "enable.auto.commit": False,
            }
        )
        t = settings.topics
        self._consumer.subscribe([t.scored, t.review, t.quarantine])
        self.seen: dict[tuple[int, int], float] = {}  # (input partition, input offset) -> wall ms read
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            for m in self._consumer.consume(1000, 0.05):
                if m.error() is not None:
                    continue
                now = time.time() * 1000
                headers = dict(m.headers() or [])
                partition, offset = headers.get("source-partition"), headers.get("source-offset")
                if partition is not None and offset is not None:
                    self.seen.setdefault((int(partition), int(offset)), now)
        self._consumer.close()


def measure_latency(
    settings: Settings, messages: Sequence[SimulatedMessage], rate: float, warmup_s: float = 3.0
) -> dict[str, Any]:
    """p50/p95/p99 end-to-end latency (ms) of ``processor run`` at ``rate`` events per second."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "processor", "run"],
        env={**{k: v for k, v in os.environ.items() if not k.startswith("PROCESSOR_")}, **settings_to_env(settings)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    reader = _OutputReader(settings)
    try:
        _wait_stable(settings)
        reader.start()
        sent: dict[tuple[int, int], float] = {}  # (partition, offset) -> producer timestamp, wall ms

        def delivered(err: Any, msg: Any) -> None:
            if err is None:
                sent[(msg.partition(), msg.offset())] = msg.timestamp()[1]

        producer = Producer({**settings.kafka.client_config(), "enable.idempotence": True, "linger.ms": 1})
        start = time.monotonic()
        for i, message in enumerate(messages):
            due = start + i / rate
            lag = due - time.monotonic()
            if lag > _PACE_S:
                time.sleep(lag)
            producer.produce(
                settings.topics.raw,
                value=message.value,
                key=message.key,
                headers=list(message.headers) or None,
                on_delivery=delivered,
            )
            producer.poll(0)
        producer.flush(30)
        offered_s = time.monotonic() - start
        # every input gets one output except duplicates: wait until the outputs stop coming
        settled, last_count = time.monotonic(), -1
        while time.monotonic() - settled < 3.0:
            time.sleep(0.25)
            if len(reader.seen) != last_count:
                last_count, settled = len(reader.seen), time.monotonic()
    finally:
        reader.stop.set()
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
    first_sent = min(sent.values())
    latencies = sorted(
        reader.seen[position] - ts
        for position, ts in sent.items()
        if position in reader.seen and ts - first_sent >= warmup_s * 1000
    )
    if not latencies:
        raise RuntimeError("no outputs observed: is the processor running?")

    def pct(q: float) -> float:
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))]

    return {
        "offered_events_per_s": rate,
        "achieved_events_per_s": len(messages) / offered_s,
        "measured_events": len(latencies),
        "answered": len(reader.seen),
        "sent": len(sent),
        "p50_ms": pct(0.50),
        "p95_ms": pct(0.95),
        "p99_ms": pct(0.99),
        "max_ms": latencies[-1],
    }
