"""Failover under load on the local clusters (deploy/local/cluster.sh): three scenarios.

Each scenario gets its own topics (12 partitions, replication factor 3, min.insync.replicas 2),
consumer group and Redis key prefix on a three-node Kafka cluster and a six-node Redis Cluster.
``processor run`` processes (the real CLI, as deployments run it) consume a steady stream while
the fault happens; when the stream is done they drain, and the accounting identity is checked
over every output topic read with ``read_committed``:

1. ``broker``: kill -9 one of the three Kafka nodes mid-stream, restart it later;
2. ``redis``: kill -9 the Redis Cluster master that serves the most partitions' reorder state,
   so its replica takes over (and restart it: it rejoins as a replica). Writes the old master had
   not replicated come back as the processor's state rebuilds; the duplicates they let through
   are counted by ``processor_at_least_once_duplicates_total``, which is compared with what
   the audit observed;
3. ``rebalance``: add a fourth processor mid-stream, then stop two.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import redis

from helpers.kafka import settings_env
from helpers.streams import StreamProducer
from processor.audit import AuditReport, audit
from processor.config import PROJECT_ROOT, Settings, load_settings
from processor.devtools.simulate import FaultMix, simulate
from processor.kafka.admin import create_topics
from processor.state.keys import Keys

CLUSTER = PROJECT_ROOT / "deploy" / "local" / "cluster.sh"
SCENARIOS = ("broker", "redis", "rebalance")


@dataclass(frozen=True)
class ScaleConfig:
    events: int = 30_000
    partitions: int = 12
    processors: int = 3
    rate: int = 1_000  # events per second of the steady stream
    seed: int = 11
    kafka_port: int = int(os.environ.get("KAFKA_CLUSTER_PORT", "19701"))
    redis_port: int = int(os.environ.get("REDIS_CLUSTER_PORT", "17101"))
    metrics_port: int = 19780  # processor i serves /metrics on metrics_port + i
    cluster_dir: Path = Path(os.environ.get("CLUSTER_DIR", PROJECT_ROOT / ".local" / "cluster"))
    models_dir: Path | None = None
    log_dir: Path = Path("/tmp")


@dataclass
class ScenarioResult:
    name: str
    events: int = 0  # configured
    produced: int = 0  # delivery reports that said delivered (the run raises StreamFailed if short)
    elapsed_s: float = 0.0
    stream_s: float = 0.0
    report: AuditReport | None = None
    counted_duplicates: int = 0  # processor_at_least_once_duplicates_total over all processes
    state_rebuilds: int = 0
    failover_s: float | None = None  # kill -9 until the cluster serves every slot again
    restarts: int = 0  # processors that exited by themselves and were restarted
    log: list[str] = field(default_factory=list)

    @property
    def lost(self) -> int:
        return len(self.report.lost) if self.report else -1

    @property
    def outputs(self) -> int:
        r = self.report
        return r.scored + r.review + r.quarantined if r else 0

    @property
    def reemitted(self) -> int:
        """Outputs beyond one per answered input: what a rebuild re-emitted."""
        r = self.report
        if r is None:
            return -1
        return self.outputs - (r.inputs - r.duplicates_dropped - len(r.lost))

    @property
    def duplicated(self) -> int:
        """Inputs answered twice, event ids decided twice, outputs that name no input."""
        r = self.report
        if r is None:
            return -1
        return len(r.answered_twice) + len(r.decided_twice) + r.orphans

    @property
    def duplicates_allowed(self) -> bool:
        """Whether the duplicates seen are within the scenario's documented guarantee (the module docstring).

        Only ``redis`` allows any: at-least-once where the killed master lost unreplicated writes, and
        then every duplicate is counted by ``processor_at_least_once_duplicates_total``: the outputs
        re-emitted equal the metric, and neither the inputs answered twice nor the event ids decided
        twice exceed it. Outputs that name no input are never allowed.
        """
        r = self.report
        if r is None:
            return False
        if self.duplicated == 0:
            return True
        if self.name != "redis" or r.orphans:
            return False
        counted = self.counted_duplicates
        return self.reemitted == counted and len(r.answered_twice) <= counted and len(r.decided_twice) <= counted

    @property
    def ok(self) -> bool:
        r = self.report
        if r is None or self.lost != 0 or r.quarantine_bytes_mismatch:
            return False
        if not self.produced == self.events == r.inputs:
            return False
        if self.name == "redis" and self.reemitted != self.counted_duplicates:
            return False  # a re-emitted output the metric did not count
        if not self.duplicates_allowed:
            return False
        # with no duplicate, the identity must hold exactly; with allowed ones only they break it
        return self.duplicated > 0 or r.identity_holds

    def problems(self) -> list[str]:
        out = list(self.report.problems()) if self.report else ["no audit report"]
        if self.produced != self.events:
            out.append(f"{self.produced} inputs delivered, {self.events} configured")
        if self.report is not None and self.report.inputs != self.produced:
            out.append(f"the raw topic holds {self.report.inputs} inputs, {self.produced} were delivered")
        if self.duplicated > 0:
            verdict = "allowed" if self.duplicates_allowed else "NOT allowed"
            out.append(
                f"{self.duplicated} duplicates ({verdict} by the {self.name} scenario's guarantee; "
                f"{self.counted_duplicates} counted by processor_at_least_once_duplicates_total)"
            )
        return out

    def line(self) -> str:
        r = self.report
        rate = self.events / self.stream_s if self.stream_s else 0.0
        parts = [
            f"{self.name:<9}",
            f"events={self.events}",
            f"produced={self.produced}",
            f"inputs={r.inputs if r else -1}",
            f"outputs={self.outputs}",
            f"dropped_duplicates={r.duplicates_dropped if r else -1}",
            f"lost={self.lost}",
            f"duplicated={self.duplicated}" + (" (allowed)" if self.duplicated > 0 and self.duplicates_allowed else ""),
            f"processor_restarts={self.restarts}",
        ]
        if self.name == "redis":
            parts += [
                f"reemitted={self.reemitted}",
                f"counted_by_metric={self.counted_duplicates}",
                f"state_rebuilds={self.state_rebuilds}",
                f"failover={self.failover_s:.1f}s" if self.failover_s is not None else "failover=?",
            ]
        parts += [
            f"identity={'holds' if r and r.identity_holds else 'BROKEN'}",
            f"order={'holds' if r and r.order_holds else 'BROKEN'}",
            f"stream={rate:.0f}/s",
            f"elapsed={self.elapsed_s:.0f}s",
            "OK" if self.ok else "FAILED",
        ]
        return " ".join(parts)


def cluster_up(what: str = "all") -> None:
    subprocess.run(["bash", str(CLUSTER), "up", what], check=True, capture_output=True, timeout=300)


class _Processors:
    """``processor run`` processes in one group, each with its own transactional id and metrics port."""

    def __init__(self, settings: Settings, config: ScaleConfig, run: str) -> None:
        self._settings = settings
        self._config = config
        self._run = run
        self.procs: dict[int, subprocess.Popen[bytes]] = {}
        self.stopped: set[int] = set()
        self.restarts: list[str] = []
        self.closing = False

    def start(self, i: int) -> None:
        env = settings_env(self._settings)
        env["PROCESSOR_KAFKA__TRANSACTIONAL_ID"] = f"scale-{self._run}-{i}"
        env["PROCESSOR_METRICS__ENABLED"] = "true"
        env["PROCESSOR_METRICS__HOST"] = "127.0.0.1"
        env["PROCESSOR_METRICS__PORT"] = str(self._config.metrics_port + i)
        log = open(self._config.log_dir / f"scale-{self._run}-processor-{i}.log", "ab")  # noqa: SIM115
        self.procs[i] = subprocess.Popen([sys.executable, "-m", "processor", "run"], env=env, stdout=log, stderr=log)

    def metric(self, name: str) -> int:
        """Sum of a counter over the running processes' /metrics."""
        total = 0.0
        for i, proc in self.procs.items():
            if proc.poll() is not None:
                continue
            url = f"http://127.0.0.1:{self._config.metrics_port + i}/metrics"
            with urllib.request.urlopen(url, timeout=5) as response:
                text = response.read().decode()
            match = re.search(rf"^{name} (\S+)$", text, re.MULTILINE)
            total += float(match.group(1)) if match else 0.0
        return int(total)

    def supervise(self) -> None:
        """Restart a processor that exited by itself, as Kubernetes would; each restart is reported."""
        while not self.closing:
            for i, proc in list(self.procs.items()):
                if i not in self.stopped and proc.poll() is not None and not self.closing:
                    self.restarts.append(f"processor {i} exited {proc.returncode}: restarted")
                    self.start(i)
            time.sleep(0.5)

    def stop(self, i: int) -> None:
        self.stopped.add(i)
        proc = self.procs[i]
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)

    def stop_all(self) -> None:
        self.closing = True
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for i in list(self.procs):
            self.stop(i)


def _settings(config: ScaleConfig, run: str) -> Settings:
    kafka_ports = [config.kafka_port + i for i in range(3)]
    return load_settings(
        project_dir=PROJECT_ROOT,  # the repository's example project, from wherever this runs
        kafka={
            "bootstrap_servers": ",".join(f"127.0.0.1:{p}" for p in kafka_ports),
            "group_id": f"scale-{run}",
        },
        redis={"url": f"redis+cluster://127.0.0.1:{config.redis_port}", "key_prefix": f"scale:{run}:"},
        topics={
            "raw": f"scale.{run}.raw",
            "scored": f"scale.{run}.scored",
            "review": f"scale.{run}.review",
            "quarantine": f"scale.{run}.quarantine",
            "feedback": f"scale.{run}.feedback",
            "raw_partitions": config.partitions,
            "output_partitions": config.partitions,
            "replication_factor": 3,
            "min_insync_replicas": 2,
        },
        processing={"batch_size": 500, "idle_timeout_ms": 1_000, "allowed_lateness_ms": 3_000},
        models={"dir": str(config.models_dir or config.log_dir / "scale-models"), "reload_interval_s": 30},
        metrics={"enabled": False},
    )


def _pid(path: Path) -> int:
    return int(path.read_text().strip())


def _kill9(pidfile: Path) -> None:
    pid = _pid(pidfile)
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)


def _redis_nodes(port: int) -> list[tuple[int, str, list[tuple[int, int]]]]:
    """(port, role, slot ranges) of every live node, as a live node sees the cluster."""
    out = []
    nodes = redis.Redis(port=port, socket_timeout=3).execute_command("CLUSTER NODES")  # parsed by redis-py
    for address, node in nodes.items():
        flags = str(node["flags"])
        if "fail" in flags:
            continue
        ranges = [(int(r[0]), int(r[-1])) for r in node["slots"]]
        role = "master" if "master" in flags else "replica"
        out.append((int(address.split("@")[0].rsplit(":", 1)[1]), role, ranges))
    return out


def _busiest_master(config: ScaleConfig, settings: Settings) -> int:
    """The master holding the most partitions' reorder state: killing it hurts the most."""
    from redis.crc import key_slot

    keys = Keys(settings.redis.key_prefix)
    slots = [key_slot(keys.buffer_state(settings.topics.raw, p).encode()) for p in range(config.partitions)]
    best, best_count = config.redis_port, -1
    for port, role, ranges in _redis_nodes(config.redis_port):
        if role != "master":
            continue
        count = sum(1 for s in slots if any(lo <= s <= hi for lo, hi in ranges))
        if count > best_count:
            best, best_count = port, count
    return best


def _serving(port: int) -> bool:
    try:
        info = redis.Redis(port=port, socket_timeout=2).execute_command("CLUSTER INFO")
    except redis.RedisError:
        return False
    return bool(info.get("cluster_state") == "ok")  # parsed by redis-py


def run_scenario(name: str, config: ScaleConfig) -> ScenarioResult:
    assert name in SCENARIOS, name
    started = time.monotonic()
    run = f"{name[:3]}{uuid.uuid4().hex[:6]}"
    result = ScenarioResult(name, events=config.events)
    settings = _settings(config, run)
    config.log_dir.mkdir(parents=True, exist_ok=True)
    (config.log_dir / "scale-models").mkdir(exist_ok=True)
    cluster_up()
    create_topics(settings)
    messages = simulate(config.events, seed=config.seed, faults=FaultMix.default(), span_s=600.0)
    stamp = lambda what: result.log.append(f"{name}: {time.monotonic() - started:6.1f}s {what}")  # noqa: E731

    procs = _Processors(settings, config, run)
    for i in range(config.processors):
        procs.start(i)
    threading.Thread(target=procs.supervise, daemon=True).start()
    # one idempotent producer (acks=all) for the whole stream, paced to the rate; a failed
    # delivery, a flush that gives up or the thread's death fails the scenario (StreamFailed)
    t0 = time.monotonic()
    stream = StreamProducer(
        {
            "bootstrap.servers": settings.kafka.bootstrap_servers,
            "linger.ms": 20,
            "message.max.bytes": 4 * 1024 * 1024,
            "log_level": 3,
        },
        settings.topics.raw,
        [(m.key, m.value) for m in messages],
        chunk=max(1, config.rate // 4),
        pace=lambda handed: time.sleep(max(0.0, t0 + handed / config.rate - time.monotonic())),
    )

    def streamed(count: int) -> Callable[[], bool]:
        def reached() -> bool:
            stream.check()  # a dead producer fails the wait at once, not after its timeout
            return stream.handed >= count

        return reached

    try:
        stream.start()
        _wait(streamed(len(messages) // 4), 300)
        if name == "broker":
            victim = config.cluster_dir / "kafka-2" / "kafka.pid"
            _kill9(victim)
            stamp("kill -9 kafka node 2")
            time.sleep(15)
            cluster_up("kafka")
            stamp("kafka node 2 restarted and caught up")
        elif name == "redis":
            port = _busiest_master(config, settings)
            _kill9(config.cluster_dir / f"redis-{port}" / "redis.pid")
            killed = time.monotonic()
            stamp(f"kill -9 redis master {port}")
            other = config.redis_port + 1 if port == config.redis_port else config.redis_port
            _wait(lambda: _serving(other) and all(_serving(p) for p, _, _ in _redis_nodes(other)), 60)
            result.failover_s = time.monotonic() - killed
            stamp(f"replica took over in {result.failover_s:.1f}s")
            time.sleep(5)
            cluster_up("redis")
            stamp(f"{port} restarted (now a replica)")
        else:
            procs.start(config.processors)
            stamp(f"processor {config.processors} added")
            _wait(streamed(len(messages) * 3 // 5), 300)
            procs.stop(0)
            procs.stop(1)
            stamp("processors 0 and 1 stopped")
        result.produced = stream.wait(900)
        result.stream_s = stream.elapsed_s
        stamp(f"stream produced ({result.stream_s:.0f}s)")
        # drained when every input is answered or dropped: then read the counters, then stop
        _wait(lambda: not audit(settings).lost, 600, interval_s=5.0)
        stamp("drained")
        result.counted_duplicates = procs.metric("processor_at_least_once_duplicates_total")
        result.state_rebuilds = procs.metric("processor_state_rebuilds_total")
        result.restarts = len(procs.restarts)
        result.log.extend(f"{name}: {line}" for line in procs.restarts)
    finally:
        procs.stop_all()
    result.report = audit(settings)
    result.elapsed_s = time.monotonic() - started
    return result


def _wait(predicate: object, timeout_s: float, interval_s: float = 0.5) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(interval_s)
    raise TimeoutError(f"condition not met within {timeout_s:.0f}s")
