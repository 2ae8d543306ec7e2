"""docker-compose.yml, executed: every service's command runs as a local process, in dependency order.

There is no container engine here (nor on CI), so the compose file is executed the way an engine
would run it, minus the containers: its variables interpolated from an env file like the one
``make compose-env`` writes, each service's ``command`` run with the installed ``processor`` CLI
(the image's entry point is ``python -m processor``), its environment mapped onto this machine:

- host names to localhost, ports to free local ones (``kafka:9092`` is the local stack's broker;
  Redis is a ``redis-server`` this test starts with the compose service's own command, so its
  ``requirepass`` and the roles' ``PROCESSOR_REDIS__PASSWORD`` are exercised for real);
- named volumes to temporary directories (the models volume is shared, as in compose);
- unique topic names, consumer groups and Redis prefix, so it cannot collide with other tests.

A one-shot service (``restart: "no"``) must exit 0 before its dependants start
(``service_completed_successfully``); a long-running one must pass its health check: the image's
HEALTHCHECK command from the Dockerfile, or the service's own (Redis: ``redis-cli ping``
authenticated). Long-running services are then stopped with SIGTERM and must exit 0.

Services whose image is not ours are mapped or not exercised: ``kafka`` is the local stack's broker
(its health check replaced by a metadata request); ``prometheus`` gets ``promtool check config``
on its mounted configuration; ``grafana`` is not exercised (its provisioning files are checked by
tests/unit/deploy/test_compose.py).

What a container adds that this cannot exercise: the image itself (its Python, the lock files'
wheels, the non-root user, file permissions of the volumes: ``make image-test`` covers these),
Docker's DNS (a scaled service name resolving to every replica, which Prometheus relies on),
the compose network's isolation and published ports, ``depends_on`` as the engine evaluates it,
restart policies, stop grace periods and resource limits, and the Kafka and Grafana images.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from confluent_kafka.admin import AdminClient

from helpers.net import free_port
from processor.config import PROJECT_ROOT

COMPOSE = PROJECT_ROOT / "docker-compose.yml"
DOCKERFILE = PROJECT_ROOT / "Dockerfile"
BOOTSTRAP = os.environ.get("PROCESSOR_KAFKA__BOOTSTRAP_SERVERS", "localhost:9092")
#: the local stack's schema registry (deploy/local/stack.sh), standing in for compose's apicurio service
REGISTRY = f"127.0.0.1:{os.environ.get('REGISTRY_PORT', '8085')}"
OURS = ("processor:local", "processor:train")
#: the port each of our long-running roles listens on inside its container, and the setting for it
ROLE_PORTS = {"processor": (9108, "PROCESSOR_METRICS__PORT"), "ingest": (8080, "PROCESSOR_INGEST__PORT"),
              "review": (8081, "PROCESSOR_REVIEW__PORT")}  # fmt: skip
SATISFIED = {"service_started", "service_healthy", "service_completed_successfully"}
NOT_EXERCISED = {
    "grafana": "a Grafana image; provisioning checked in tests/unit/deploy/test_compose.py",
}

_VAR = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)")


def interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's variable syntax: ``$$``, ``${VAR}``, ``${VAR:-default}``, ``${VAR:?error}``."""

    def one(match: re.Match[str]) -> str:
        if match[0] == "$$":
            return "$"
        name = match[1] or match[4]
        op, arg = match[2], match[3]
        current = env.get(name)
        if op in (":-", "-"):
            return current if current or (op == "-" and current is not None) else arg
        if op in (":?", "?") and not current:
            raise AssertionError(f"compose would refuse to start: {name}: {arg}")
        return current or ""

    return _VAR.sub(one, value)


def _walk(node: Any, env: dict[str, str]) -> Any:
    if isinstance(node, str):
        return interpolate(node, env)
    if isinstance(node, list):
        return [_walk(n, env) for n in node]
    if isinstance(node, dict):
        return {k: _walk(v, env) for k, v in node.items()}
    return node


def dependency_order(services: dict[str, Any]) -> list[str]:
    order: list[str] = []
    visiting: set[str] = set()

    def visit(name: str) -> None:
        if name in order:
            return
        assert name not in visiting, f"dependency cycle through {name}"
        visiting.add(name)
        for dep in services[name].get("depends_on") or {}:
            visit(dep)
        visiting.discard(name)
        order.append(name)

    for name in services:
        visit(name)
    return order


def image_healthcheck() -> list[str]:
    """The Dockerfile's HEALTHCHECK CMD (exec form)."""
    text = DOCKERFILE.read_text(encoding="utf-8").replace("\\\n", " ")
    match = re.search(r"^HEALTHCHECK .*?CMD (\[.*\])\s*$", text, re.M)
    assert match is not None, "the Dockerfile has no HEALTHCHECK CMD"
    command: list[str] = yaml.safe_load(match[1])
    return command


@dataclass
class Stack:
    """What the compose services are mapped onto, for one test run."""

    root: Path
    run: str = field(default_factory=lambda: f"compose-{uuid.uuid4().hex[:8]}")
    redis_port: int = field(default_factory=free_port)
    ports: dict[str, int] = field(default_factory=lambda: {role: free_port() for role in ROLE_PORTS})
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def volume(self, name: str) -> Path:
        path = self.root / "volumes" / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def endpoints(self) -> dict[str, str]:
        """``service:port`` inside the compose network -> ``host:port`` here."""
        mapped = {"kafka:9092": BOOTSTRAP, "redis:6379": f"localhost:{self.redis_port}", "apicurio:8080": REGISTRY}
        mapped.update({f"{role}:{port}": f"127.0.0.1:{self.ports[role]}" for role, (port, _) in ROLE_PORTS.items()})
        return mapped

    def environment(self, name: str, service: dict[str, Any]) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PROCESSOR_")}
        for key, value in (service.get("environment") or {}).items():
            text = str(value)
            for inside, here in self.endpoints().items():
                text = text.replace(inside, here)
            if name in ROLE_PORTS:  # a role's own address on its loopback
                port = ROLE_PORTS[name][0]
                text = text.replace(f"127.0.0.1:{port}", f"127.0.0.1:{self.ports[name]}")
            env[key] = text
        for volume in service.get("volumes") or []:
            source, target = volume.split(":")[:2]
            if not source.startswith("."):  # a named volume -> a directory of this run
                for key, value in env.items():
                    if key.startswith("PROCESSOR_") and value == target:
                        env[key] = str(self.volume(source))
        if name in ROLE_PORTS:
            env[ROLE_PORTS[name][1]] = str(self.ports[name])
        # unique names: nothing here can meet another test's (or a demo's) topics, groups or keys
        env.update(
            {
                # the image's ENV PROCESSOR_PROJECT_DIR=/app: the code and the example project it copies
                "PROCESSOR_PROJECT_DIR": str(PROJECT_ROOT),
                "PROCESSOR_TOPICS__RAW": f"{self.run}.raw",
                "PROCESSOR_TOPICS__SCORED": f"{self.run}.scored",
                "PROCESSOR_TOPICS__REVIEW": f"{self.run}.review",
                "PROCESSOR_TOPICS__QUARANTINE": f"{self.run}.quarantine",
                "PROCESSOR_TOPICS__FEEDBACK": f"{self.run}.feedback",
                "PROCESSOR_KAFKA__GROUP_ID": self.run,
                "PROCESSOR_REVIEW__GROUP_ID": f"{self.run}-review",
                "PROCESSOR_REDIS__KEY_PREFIX": f"{self.run}:",
                "PROCESSOR_TOPICS__RAW_PARTITIONS": "3",
                "PROCESSOR_TOPICS__OUTPUT_PARTITIONS": "3",
            }
        )
        return env

    def start(self, argv: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
        out = log.open("ab")
        proc = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=self.root)
        out.close()
        self.processes.append(proc)
        return proc

    def stop_all(self) -> None:
        for proc in reversed(self.processes):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(10)


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    s = Stack(root=tmp_path)
    yield s
    s.stop_all()


def _wait_healthy(check: list[str], env: dict[str, str], proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"{proc.args} exited with {proc.returncode}:\n{log.read_text()[-3000:]}"
        if subprocess.run(check, env=env, capture_output=True, timeout=10).returncode == 0:
            return
        time.sleep(0.5)
    raise AssertionError(f"{proc.args} never passed its health check {check}:\n{log.read_text()[-3000:]}")


def test_every_compose_service_runs_and_answers(stack: Stack) -> None:
    # the env file `make compose-env` writes: every variable compose requires, and nothing else
    dotenv = {"REDIS_PASSWORD": uuid.uuid4().hex, "GRAFANA_ADMIN_PASSWORD": uuid.uuid4().hex}
    raw = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    with pytest.raises(AssertionError, match="REDIS_PASSWORD"):  # no .env: compose refuses to start
        _walk(raw, {})
    compose = _walk(raw, dotenv)
    services: dict[str, Any] = compose["services"]
    processor_cli = shutil.which("processor", path=str(Path(sys.executable).parent))
    assert processor_cli is not None, "the processor CLI is not installed in this environment"
    healthcheck = [sys.executable if part == "python" else part for part in image_healthcheck()]

    ran: dict[str, str] = {}
    for name in dependency_order(services):
        service = services[name]
        log = stack.root / f"{name}.log"
        if name in NOT_EXERCISED:
            ran[name] = "not exercised"
            continue
        for dep, condition in (service.get("depends_on") or {}).items():
            wanted = condition["condition"]
            ok = (
                ran.get(dep) == wanted
                or (wanted == "service_started" and ran.get(dep) in SATISFIED)
                or (dep in NOT_EXERCISED and ran.get(dep) == "not exercised")
            )
            assert ok, f"{name} needs {dep} {wanted}, which it is not ({ran.get(dep)})"
        if name == "apicurio":  # the local stack's registry (the same release): its health answers
            with urllib.request.urlopen(f"http://{REGISTRY}/health/ready", timeout=10) as answer:
                assert answer.status == 200
            ran[name] = "service_started"
            continue
        if name == "kafka":  # the local stack's broker: its metadata answers
            AdminClient({"bootstrap.servers": BOOTSTRAP}).list_topics(timeout=30)
            ran[name] = "service_healthy"
            continue
        if name == "prometheus":  # its configuration, with the mounted directory where it is here
            mounts = dict(v.split(":")[1::-1] for v in service["volumes"] if v.startswith("./"))
            config_dir = PROJECT_ROOT / mounts["/etc/prometheus"]
            config = (config_dir / "prometheus.yml").read_text(encoding="utf-8")
            copy = stack.root / "prometheus.yml"
            copy.write_text(config.replace("/etc/prometheus/", f"{config_dir}/"), encoding="utf-8")
            promtool = shutil.which("promtool")
            if promtool is None:  # make lint installs it (deploy/local/ensure-prometheus.sh)
                ran[name] = "not exercised"
                continue
            done = subprocess.run([promtool, "check", "config", str(copy)], capture_output=True, text=True)
            assert done.returncode == 0, done.stdout + done.stderr
            ran[name] = "service_started"
            continue

        env = stack.environment(name, service)
        if name == "redis":  # the compose command itself, on a free port and a temporary data dir
            command = list(service["command"])
            assert command[:2] == ["sh", "-c"]
            command[2] += f" --port {stack.redis_port} --dir {stack.volume('redis-data')} --bind 127.0.0.1"
            proc = stack.start(command, env, log)
            check = [
                "sh",
                "-c",
                service["healthcheck"]["test"][1].replace("redis-cli", f"redis-cli -p {stack.redis_port}"),
            ]
            _wait_healthy(check, env, proc, log)
            ran[name] = "service_healthy"
            continue

        assert service["image"] in OURS, f"{name}: image {service['image']} is neither ours nor mapped"
        assert "entrypoint" not in service, f"{name}: the image's entry point is the processor CLI"
        argv = [processor_cli, *service["command"]]
        if service.get("restart") == "no":  # one-shot: must complete
            proc = stack.start(argv, env, log)
            try:
                code = proc.wait(180)
            except subprocess.TimeoutExpired:
                proc.kill()
                raise AssertionError(f"{name} did not finish in 180 s:\n{log.read_text()[-3000:]}") from None
            assert code == 0, f"{name} ({' '.join(service['command'])}) exited {code}:\n{log.read_text()[-3000:]}"
            ran[name] = "service_completed_successfully"
        else:  # long-running: its health check must pass
            proc = stack.start(argv, env, log)
            _wait_healthy(healthcheck, env, proc, log)
            ran[name] = "service_healthy"

    assert set(ran) == set(services)
    exercised = {n for n, state in ran.items() if state != "not exercised"}
    assert {"redis", "topics", "train", "processor", "ingest", "review"} <= exercised, ran

    # the long-running roles stop on SIGTERM (a stop or a scale-down) and exit 0: an engine reports a
    # process killed by the signal (plain uvicorn re-raises it after its shutdown) as 143, a crash
    for proc in reversed(stack.processes):
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            code = proc.wait(60)
            assert code == 0, (proc.args, code)
    # the bootstrap left a model per event type in the shared volume, and the processor loaded them
    models = stack.volume("models")
    assert sorted(p.name for p in models.iterdir() if p.is_dir()) == sorted(
        ["document_uploaded", "jira_ticket_created", "user_signed_up"]
    )
    assert (stack.root / "processor.log").read_text().count("active now") == 3
