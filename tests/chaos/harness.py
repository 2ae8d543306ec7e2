"""The chaos suite: processors in one group, a faulty stream, and real faults, then the identity.

Several ``processor run`` processes share a 12-partition input while a simulated stream (with
duplicates, out-of-order, late and bad inputs) is produced. A seeded schedule injects faults on
the real processes: kill -9 of processors (a supervisor restarts them, as Kubernetes would),
Redis restarts (AOF kept), a Redis pause (SIGSTOP), a broker restart. When the stream is done
the processors drain, and every output topic is read with read_committed to check the
accounting identity exactly.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from helpers.kafka import settings_env
from helpers.streams import StreamProducer
from processor.audit import AuditReport, audit
from processor.config import PROJECT_ROOT, Settings, load_settings
from processor.devtools.simulate import FaultMix, simulate
from processor.kafka.admin import create_topics

STACK = PROJECT_ROOT / "deploy" / "local" / "stack.sh"


@dataclass(frozen=True)
class ChaosConfig:
    processors: int = 3
    partitions: int = 12
    events: int = 100_000
    kills: int = 10
    redis_restarts: int = 2
    redis_pause_s: float = 30.0
    broker_restarts: int = 1
    seed: int = 7
    produce_chunks: int = 10  # the stream arrives in chunks while faults happen
    models_dir: Path | None = None
    stack_dir: Path = Path(os.environ.get("STACK_DIR", PROJECT_ROOT / ".local"))  # as deploy/local/stack.sh
    log_dir: Path = Path("/tmp")


@dataclass
class ChaosResult:
    events: int = 0  # configured
    produced: int = 0  # delivery reports that said delivered (the run raises StreamFailed if short)
    kills: int = 0
    restarts: int = 0
    crashes: int = 0
    redis_restarts: int = 0
    redis_pauses: int = 0
    broker_restarts: int = 0
    elapsed_s: float = 0.0
    report: AuditReport | None = None
    log: list[str] = field(default_factory=list)

    @property
    def lost(self) -> int:
        return len(self.report.lost) if self.report else -1

    @property
    def duplicated(self) -> int:
        if self.report is None:
            return -1
        return len(self.report.answered_twice) + len(self.report.decided_twice) + self.report.orphans

    @property
    def ok(self) -> bool:
        """Nothing lost or duplicated, the identity holds, and the topic holds exactly the configured stream."""
        r = self.report
        return (
            r is not None
            and self.produced == self.events == r.inputs
            and self.lost == 0
            and self.duplicated == 0
            and r.identity_holds
        )

    def problems(self) -> list[str]:
        out = list(self.report.problems()) if self.report else ["no audit report"]
        if self.produced != self.events:
            out.append(f"{self.produced} inputs delivered, {self.events} configured")
        if self.report is not None and self.report.inputs != self.produced:
            out.append(f"the raw topic holds {self.report.inputs} inputs, {self.produced} were delivered")
        return out

    def line(self) -> str:
        r = self.report
        return (
            f"events={self.events} produced={self.produced} inputs={r.inputs if r else -1} kills={self.kills} restarts={self.restarts} crashes={self.crashes} "
            f"redis_restarts={self.redis_restarts} redis_pauses={self.redis_pauses} "
            f"broker_restarts={self.broker_restarts} lost={self.lost} duplicated={self.duplicated} "
            f"identity={'holds' if r and r.identity_holds else 'BROKEN'} "
            f"order={'holds' if r and r.order_holds else 'BROKEN'} elapsed={self.elapsed_s:.0f}s"
        )


def _pid(path: Path) -> int:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError) as exc:
        raise RuntimeError(f"no pidfile at {path}: chaos needs the stack started by deploy/local/stack.sh") from exc


class _Supervisor:
    """Keeps N processor processes running, restarting any that exit (as Kubernetes would)."""

    def __init__(self, settings: Settings, count: int, run: str, log_dir: Path, result: ChaosResult) -> None:
        self._settings = settings
        self._run = run
        self._log_dir = log_dir
        self._result = result
        self.procs: list[subprocess.Popen[bytes] | None] = [None] * count
        self._stopping = False
        self._lock = threading.Lock()

    def _start(self, i: int) -> None:
        env = settings_env(self._settings)
        env["PROCESSOR_KAFKA__TRANSACTIONAL_ID"] = f"chaos-{self._run}-{i}"
        log = open(self._log_dir / f"chaos-{self._run}-processor-{i}.log", "ab")  # noqa: SIM115
        self.procs[i] = subprocess.Popen([sys.executable, "-m", "processor", "run"], env=env, stdout=log, stderr=log)

    def start_all(self) -> None:
        for i in range(len(self.procs)):
            self._start(i)

    def watch(self) -> None:
        while not self._stopping:
            with self._lock:
                for i, proc in enumerate(self.procs):
                    if proc is not None and proc.poll() is not None and not self._stopping:
                        self._result.crashes += 1
                        self._result.log.append(f"processor {i} exited with {proc.returncode}: restarted")
                        self._start(i)
            time.sleep(0.5)

    def kill(self, i: int) -> None:
        with self._lock:
            proc = self.procs[i]
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                proc.wait(10)
            self._start(i)

    def stop_all(self) -> None:
        self._stopping = True
        with self._lock:
            for proc in self.procs:
                if proc is not None and proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
            for i, proc in enumerate(self.procs):
                if proc is not None:
                    try:
                        proc.wait(60)
                    except subprocess.TimeoutExpired:
                        self._result.log.append(f"processor {i} ignored SIGTERM for 60 s: killed")
                        proc.kill()


def run_chaos(config: ChaosConfig) -> ChaosResult:
    started = time.monotonic()
    rng = random.Random(config.seed)
    run = uuid.uuid4().hex[:8]
    result = ChaosResult(events=config.events)
    settings = load_settings(
        project_dir=PROJECT_ROOT,  # the repository's example project, from wherever this runs
        kafka={"group_id": f"chaos-{run}", "session_timeout_ms": 10_000},
        redis={"key_prefix": f"chaos:{run}:"},
        topics={
            "raw": f"chaos.{run}.raw",
            "scored": f"chaos.{run}.scored",
            "review": f"chaos.{run}.review",
            "quarantine": f"chaos.{run}.quarantine",
            "feedback": f"chaos.{run}.feedback",
            "raw_partitions": config.partitions,
            "output_partitions": config.partitions,
        },
        processing={"batch_size": 500, "idle_timeout_ms": 1_000, "allowed_lateness_ms": 3_000},
        models={"dir": str(config.models_dir or PROJECT_ROOT / "models"), "reload_interval_s": 5},
        metrics={"enabled": False},
    )
    # fail fast, before anything runs, when the stack is not one this harness can restart
    _pid(config.stack_dir / "redis" / "redis.pid")
    _pid(config.stack_dir / "kafka" / "kafka.pid")
    create_topics(settings)
    messages = simulate(config.events, seed=config.seed, faults=FaultMix.default(), span_s=1_800.0)

    supervisor = _Supervisor(settings, config.processors, run, config.log_dir, result)
    supervisor.start_all()
    watcher = threading.Thread(target=supervisor.watch, daemon=True)
    watcher.start()

    try:
        # produce in chunks from a thread, so faults land while the stream is still arriving; a
        # failed delivery, a flush that gives up or the thread's death fails the run (StreamFailed)
        stream = StreamProducer(
            {"bootstrap.servers": settings.kafka.bootstrap_servers, "linger.ms": 10, "message.max.bytes": 4 << 20},
            settings.topics.raw,
            [(m.key, m.value) for m in messages],
            chunk=-(-len(messages) // config.produce_chunks),
            pace=lambda _handed: time.sleep(0.5),
        ).start()

        faults = (
            ["kill"] * config.kills
            + ["redis_restart"] * config.redis_restarts
            + ["redis_pause"] * (1 if config.redis_pause_s > 0 else 0)
            + ["broker_restart"] * config.broker_restarts
        )
        rng.shuffle(faults)
        redis_pidfile = config.stack_dir / "redis" / "redis.pid"
        kafka_pidfile = config.stack_dir / "kafka" / "kafka.pid"
        env = {**os.environ, "STACK_DIR": str(config.stack_dir)}
        for fault in faults:
            time.sleep(rng.uniform(1.0, 3.0))
            stream.check()
            if fault == "kill":
                victim = rng.randrange(config.processors)
                supervisor.kill(victim)
                result.kills += 1
                result.restarts += 1
            elif fault == "redis_restart":
                os.kill(_pid(redis_pidfile), signal.SIGTERM)  # a graceful stop: the AOF is flushed
                _wait_gone(redis_pidfile)
                subprocess.run(["bash", str(STACK), "up"], check=True, env=env, capture_output=True)
                result.redis_restarts += 1
            elif fault == "redis_pause":
                pid = _pid(redis_pidfile)
                os.kill(pid, signal.SIGSTOP)
                time.sleep(config.redis_pause_s)
                os.kill(pid, signal.SIGCONT)
                result.redis_pauses += 1
            elif fault == "broker_restart":
                os.kill(_pid(kafka_pidfile), signal.SIGTERM)
                _wait_gone(kafka_pidfile)
                subprocess.run(["bash", str(STACK), "up"], check=True, env=env, capture_output=True)
                result.broker_restarts += 1
            result.log.append(f"{time.monotonic() - started:6.1f}s {fault}")
        result.produced = stream.wait(600)
    except BaseException:
        supervisor.stop_all()  # never leave processors running behind a failed run
        raise

    result.log.append(f"{time.monotonic() - started:6.1f}s stream produced")
    time.sleep(5)
    supervisor.stop_all()
    result.log.append(f"{time.monotonic() - started:6.1f}s processors stopped")
    # one last processor drains what is left (and the reorder buffers) and exits when idle. The
    # stopped processors were static group members: their partitions stay theirs until their
    # sessions expire, so the drain must stay longer than the session timeout before idling out.
    env_final = settings_env(settings)
    env_final["PROCESSOR_KAFKA__TRANSACTIONAL_ID"] = f"chaos-{run}-0"
    final = subprocess.run(
        [sys.executable, "-m", "processor", "run", "--max-idle", str(settings.kafka.session_timeout_ms / 1000 + 8)],
        env=env_final,
        capture_output=True,
        timeout=600,
    )
    if final.returncode != 0:
        result.log.append(f"final drain exited {final.returncode}: {final.stderr.decode()[-2000:]}")
    result.log.append(f"{time.monotonic() - started:6.1f}s drained")
    result.report = audit(settings)
    result.elapsed_s = time.monotonic() - started
    return result


def _wait_gone(pidfile: Path, timeout_s: float = 60.0) -> None:
    pid = _pid(pidfile)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.2)
    raise TimeoutError(f"process {pid} did not stop")
