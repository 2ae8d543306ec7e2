"""What committed work counts for: the metrics of each committed batch, and the run's totals.

Only a committed batch is counted: a batch that was aborted and redone counts once, when its
redo commits (its outputs and its counts land together). ``RunSummary`` is the totals since
start that ``processor demo`` prints and ``Processor.run`` returns.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Mapping, Sized
from dataclasses import dataclass, field

from processor.batch_stats import BatchStats
from processor.decide.killswitch import MODES, KillSwitch
from processor.messages import Scored
from processor.monitoring.metrics import Metrics
from processor.monitoring.monitor import Monitor
from processor.serving.worker import ModelWorker


@dataclass(slots=True)
class RunSummary:
    """Totals of committed work since start: what the demo prints."""

    inputs: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    by_type: Counter[tuple[str, str]] = field(default_factory=Counter)
    quarantined: Counter[tuple[str, str]] = field(default_factory=Counter)
    duplicates: int = 0
    late: Counter[str] = field(default_factory=Counter)
    coercions: int = 0
    at_least_once_duplicates: int = 0
    decision_sources: Counter[str] = field(default_factory=Counter)
    transactions: int = 0
    aborts: int = 0
    started: float = field(default_factory=time.monotonic)
    first_input: float | None = None
    last_output: float | None = None
    samples: list[Scored] = field(default_factory=list)

    def consumed(self, now: float) -> None:
        """Input arrived: the throughput clock starts at the first consume, not the first commit
        (which would leave the first batch's processing, and the model's first call, off the clock)."""
        if self.first_input is None:
            self.first_input = now

    def add(self, stats: BatchStats) -> None:
        now = time.monotonic()
        if stats.inputs:
            # throughput spans the batches that consumed input, not the idle flush at the end
            self.consumed(now)
            self.last_output = now
        self.inputs += stats.inputs
        for (event_type, outcome), n in stats.outcomes.items():
            self.outcomes[outcome] += n
            self.by_type[(event_type, outcome)] += n
        self.quarantined.update(stats.quarantined)
        self.duplicates += sum(stats.duplicates.values())
        for (event_type, policy), n in stats.late.items():
            self.late[f"{event_type}:{policy}"] += n
        self.coercions += sum(stats.coercions.values())
        for (_, source, _), n in stats.decisions.items():
            self.decision_sources[source] += n
        if len(self.samples) < 8:
            self.samples.extend(stats.samples[: 8 - len(self.samples)])

    def throughput(self) -> float:
        if self.first_input is None or self.last_output is None or self.last_output <= self.first_input:
            return 0.0
        return self.inputs / (self.last_output - self.first_input)


class Accounting:
    def __init__(
        self, metrics: Metrics, topic: str, worker: ModelWorker, killswitch: KillSwitch, monitor: Monitor
    ) -> None:
        self.metrics = metrics
        self.summary = RunSummary()
        self._topic = topic
        self._worker = worker
        self._killswitch = killswitch
        self._monitor = monitor

    def aborted(self) -> None:
        self.summary.aborts += 1
        self.metrics.transactions.labels("aborted").inc()

    def committed(self, stats: BatchStats, buffers: Mapping[int, Sized], rebuild_duplicates: int = 0) -> None:
        """A batch committed: ``stats`` is what it did, ``buffers`` what each partition's reorder
        buffer holds now, ``rebuild_duplicates`` the outputs it emitted twice (a rebuild after
        Redis lost a partition's state)."""
        m = self.metrics
        if rebuild_duplicates:
            m.at_least_once_duplicates.inc(rebuild_duplicates)
            self.summary.at_least_once_duplicates += rebuild_duplicates
        self.summary.add(stats)
        self.summary.transactions += 1
        m.transactions.labels("committed").inc()
        m.input_messages.labels(self._topic).inc(stats.inputs)
        if stats.inputs:
            m.batch_messages.observe(stats.inputs)
        for (event_type, outcome), n in stats.outcomes.items():
            m.outcomes.labels(event_type, outcome).inc(n)
        for (stage, code), n in stats.quarantined.items():
            m.quarantined.labels(stage, code).inc(n)
        for event_type, n in stats.duplicates.items():
            m.duplicates.labels(event_type).inc(n)
        for (event_type, policy), n in stats.late.items():
            m.late_events.labels(event_type, policy).inc(n)
        for event_type, n in stats.coercions.items():
            m.coercions.labels(event_type).inc(n)
        for (event_type, source, route), n in stats.decisions.items():
            m.decisions.labels(event_type, source, route).inc(n)
        for (event_type, reason), n in stats.model_failures.items():
            m.model_failures.labels(event_type, reason).inc(n)
        for stage, seconds in stats.stage_seconds.items():
            m.stage_seconds.labels(stage).observe(seconds)
        for event_type, scores in stats.scores.items():
            h = m.score.labels(event_type)
            for s in scores:
                h.observe(s)
        now_ms = time.time() * 1000
        for event_type, stamps in stats.ingest_ms.items():
            h = m.end_to_end_seconds.labels(event_type)
            for ts in stamps:
                h.observe(max(0.0, (now_ms - ts) / 1000))
        for partition, buffer in buffers.items():
            m.reorder_buffered.labels(str(partition)).set(len(buffer))
        for event_type, n in stats.killswitched.items():
            m.killswitched_events.labels(event_type).inc(n)
        self._worker.account(stats.shadow)
        for scope, state in self._killswitch.states().items():
            for mode in MODES:
                m.killswitch.labels(scope, mode).set(1 if state.mode == mode else 0)
            m.killswitch_since.labels(scope).set(state.since_epoch() if state.engaged else 0)
        self._monitor.observe(stats)
