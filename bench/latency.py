"""End-to-end latency of a running processor at a fixed offered load.

The processor runs as ``processor run`` in a subprocess. Once its consumer group is stable, this
process produces the generated events at a steady rate (paced every few milliseconds) and, on
another thread, reads the three output topics with ``read_committed``, so an output counts when a
downstream consumer can see it, not when it was written. An output names its input by the
lineage headers (``source-partition``, ``source-offset``).

An event's latency is the moment its output was read minus the moment it was *due* to be sent
(``start + i / rate``), not its producer timestamp: a producer that falls behind its schedule
(the machine is busy, the client's queue is full) would otherwise hide exactly the queueing the
figure is about (coordinated omission).

Every sent event is accounted for (``account``): an event the generator expects an output for
(everything but a generated duplicate, which the processor drops and counts) and that got none is
*unanswered*; an input answered more than once is a *duplicate output*; a generated duplicate that
got an output is a *duplicate answered*. ``failures`` names what is wrong, and ``make bench`` exits
non-zero on any of it: an unanswered event never drops silently out of the percentiles.

The first ``warmup_s`` of the schedule are left out of the percentiles (not out of the accounting):
they carry the group join and the first model load, which are start-up costs, not steady-state
latency.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient

from processor.config import Settings, settings_to_env
from processor.devtools.simulate import SimulatedMessage

_PACE_S = 0.005
#: How long the outputs may stop coming before the run is over (the reorder stage holds the last
#: events until their partition has been idle for ``idle_timeout_ms``, a few seconds at most).
_SETTLE_S = 10.0

Position = tuple[int, int]  # (input partition, input offset)


@dataclass(frozen=True, slots=True)
class Sent:
    """One produced input: when it was due, and whether an output must answer it."""

    due_ms: float  # wall-clock ms of its place in the schedule
    expects_answer: bool


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
        self.seen: dict[Position, float] = {}  # input position -> wall ms its first output was read
        self.outputs: Counter[Position] = Counter()  # input position -> outputs read for it
        self.stop = threading.Event()

    def finish(self) -> None:
        """Stop reading and close the consumer (also when the run failed before the thread started)."""
        self.stop.set()
        if self.ident is not None:
            self.join(10)
        else:
            self._consumer.close()

    def run(self) -> None:
        while not self.stop.is_set():
            for m in self._consumer.consume(1000, 0.05):
                if m.error() is not None:
                    continue
                now = time.time() * 1000
                headers = dict(m.headers() or [])
                partition, offset = headers.get("source-partition"), headers.get("source-offset")
                if partition is not None and offset is not None:
                    position = (int(partition), int(offset))
                    self.seen.setdefault(position, now)
                    self.outputs[position] += 1
        self._consumer.close()


def account(
    sent: Mapping[Position, Sent],
    seen: Mapping[Position, float],
    outputs: Mapping[Position, int],
    *,
    attempted: int,
    warmup_s: float,
) -> dict[str, Any]:
    """Latency percentiles from each input's due time, and the accounting of every input.

    ``attempted`` is how many inputs were handed to the producer; those missing from ``sent`` were
    never delivered to the broker (``undelivered``)."""
    first_due = min((s.due_ms for s in sent.values()), default=0.0)
    latencies = sorted(
        seen[position] - s.due_ms
        for position, s in sent.items()
        if position in seen and s.expects_answer and s.due_ms - first_due >= warmup_s * 1000
    )

    def pct(q: float) -> float:
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] if latencies else float("nan")

    expected = [position for position, s in sent.items() if s.expects_answer]
    return {
        "sent": len(sent),
        "undelivered": attempted - len(sent),
        "expected_answers": len(expected),
        "answered": sum(1 for position in expected if position in seen),
        "unanswered": sum(1 for position in expected if position not in seen),
        "duplicate_outputs": sum(n - 1 for position, n in outputs.items() if n > 1 and position in sent),
        "duplicates_answered": sum(1 for position, s in sent.items() if not s.expects_answer and position in seen),
        "measured_events": len(latencies),
        "p50_ms": pct(0.50),
        "p95_ms": pct(0.95),
        "p99_ms": pct(0.99),
        "max_ms": latencies[-1] if latencies else float("nan"),
    }


def failures(latency: Mapping[str, Any]) -> list[str]:
    """What makes the latency run untrustworthy; empty when every input is accounted for."""
    found = []
    if latency["undelivered"]:
        found.append(f"{latency['undelivered']} inputs never reached the broker")
    if latency["unanswered"]:
        found.append(f"{latency['unanswered']} of {latency['expected_answers']} inputs got no output")
    if latency["duplicate_outputs"]:
        found.append(f"{latency['duplicate_outputs']} duplicate outputs (an input answered twice)")
    if latency["duplicates_answered"]:
        found.append(f"{latency['duplicates_answered']} generated duplicates were answered instead of dropped")
    if not latency["measured_events"]:
        found.append("no output measured after the warm-up")
    return found


def peak_rss_mb(pid: int) -> float:
    """A process's peak resident set (VmHWM), MB; 0.0 when it is gone."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def measure_latency(
    settings: Settings, messages: Sequence[SimulatedMessage], rate: float, warmup_s: float = 3.0
) -> dict[str, Any]:
    """p50/p95/p99 end-to-end latency (ms) of ``processor run`` at ``rate`` events per second, the
    accounting of every input (``account``) and the peak RSS of the ``processor run`` process."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "processor", "run"],
        env={**{k: v for k, v in os.environ.items() if not k.startswith("PROCESSOR_")}, **settings_to_env(settings)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    reader = _OutputReader(settings)
    sent: dict[Position, Sent] = {}
    peak_mb = 0.0
    try:
        _wait_stable(settings)
        reader.start()

        def delivered(item: Sent) -> Any:
            def callback(err: Any, msg: Any) -> None:
                if err is None:
                    sent[(msg.partition(), msg.offset())] = item

            return callback

        producer = Producer({**settings.kafka.client_config(), "enable.idempotence": True, "linger.ms": 1})
        start, start_wall_ms = time.monotonic(), time.time() * 1000
        for i, message in enumerate(messages):
            due = start + i / rate
            lag = due - time.monotonic()
            if lag > _PACE_S:
                time.sleep(lag)
            item = Sent(start_wall_ms + 1000 * i / rate, message.expected != "duplicate")
            while True:
                try:
                    producer.produce(
                        settings.topics.raw,
                        value=message.value,
                        key=message.key,
                        headers=list(message.headers) or None,
                        on_delivery=delivered(item),
                    )
                    break
                except BufferError:  # the client's queue is full: the event is late, not lost
                    producer.poll(0.01)
            producer.poll(0)
        producer.flush(30)
        offered_s = time.monotonic() - start
        # wait until every input that expects an output has one, or the outputs stop coming
        expected = sum(1 for s in sent.values() if s.expects_answer)
        settled, last_count = time.monotonic(), -1
        while time.monotonic() - settled < _SETTLE_S and len(reader.seen) < expected:
            time.sleep(0.25)
            if len(reader.seen) != last_count:
                last_count, settled = len(reader.seen), time.monotonic()
        time.sleep(0.5)  # a late duplicate output still counts
        peak_mb = peak_rss_mb(proc.pid)
    finally:
        reader.stop.set()
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
        reader.finish()
    result = account(sent, dict(reader.seen), dict(reader.outputs), attempted=len(messages), warmup_s=warmup_s)
    return {
        "offered_events_per_s": rate,
        "achieved_events_per_s": len(messages) / offered_s,
        "processor_run_peak_rss_mb": peak_mb,
        **result,
    }
