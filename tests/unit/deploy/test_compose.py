"""docker-compose.yml: valid against the Compose Specification schema, and consistent with the code.

There is no Docker engine on CI machines, so the file is checked the way an engine would read
it (the vendored Compose Specification JSON schema) and against what the code says: every
PROCESSOR_* variable is a real setting, every command a real CLI command, every host path
mounted exists, ports agree with the settings, Prometheus scrapes what compose runs.
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from processor.cli import build_parser
from processor.config import PROJECT_ROOT, MetricsSettings
from processor.settings_reference import env_variables

COMPOSE = PROJECT_ROOT / "docker-compose.yml"
SCHEMA = PROJECT_ROOT / "deploy" / "schemas" / "compose-spec.json"

# The HTTP port each role serves /healthz (and /metrics) on.
ROLE_PORTS = {"processor": MetricsSettings().port, "ingest": 8080, "review": 8081}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    return data


def _processor_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: svc
        for name, svc in compose["services"].items()
        if svc.get("image") in ("processor:local", "processor:train")
    }


#: ports of `make stack-up` and of the CLI's own servers on the host (settings defaults)
LOCAL_STACK_PORTS = {9092, 9093, 6379, MetricsSettings().port, 8080, 8081}


def test_the_file_is_valid_against_the_compose_specification(compose: dict[str, Any]) -> None:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    validator = jsonschema.Draft7Validator(schema)
    errors = [f"{e.json_path}: {e.message}" for e in validator.iter_errors(compose)]
    assert errors == []


def test_the_schema_check_catches_mistakes(compose: dict[str, Any]) -> None:
    validator = jsonschema.Draft7Validator(json.loads(SCHEMA.read_text(encoding="utf-8")))
    broken = json.loads(json.dumps(compose))
    broken["services"]["redis"]["command"] = {"redis-server": "--appendonly"}
    broken["services"]["processor"]["depends_on"]["redis"]["condition"] = "service_ready"
    broken["services"]["kafka"]["port"] = ["9094:9094"]
    assert len(list(validator.iter_errors(broken))) == 3


def test_every_processor_variable_is_a_real_setting(compose: dict[str, Any]) -> None:
    known = env_variables()
    used = {
        name
        for svc in compose["services"].values()
        for name in (svc.get("environment") or {})
        if name.startswith("PROCESSOR_")
    }
    assert used, "the processor services set no PROCESSOR_ variables"
    assert used - known == set()


def test_every_command_is_a_real_cli_command(compose: dict[str, Any]) -> None:
    parser = build_parser()
    for name, svc in _processor_services(compose).items():
        if "entrypoint" in svc:  # a shell script: check the processor commands inside it
            script = "\n".join(svc["command"]).replace("$$", "$")
            commands = [
                shlex.split(line.split("python -m processor ", 1)[1].replace("$type", "user_signed_up"))
                for line in script.splitlines()
                if "python -m processor " in line
            ]
            assert commands, name
        else:
            commands = [svc["command"]]
        for argv in commands:
            try:
                parser.parse_args(argv)
            except SystemExit as exc:  # argparse's way of saying "no such command"
                raise AssertionError(f"service {name}: `processor {' '.join(argv)}` is not a command") from exc
    assert isinstance(parser, argparse.ArgumentParser)


def test_images_build_from_the_dockerfile_and_kafka_matches_the_local_stack(compose: dict[str, Any]) -> None:
    dockerfile = (PROJECT_ROOT / "Dockerfile").read_text(encoding="utf-8")
    stages = set(re.findall(r"^FROM \S+ AS (\w+)", dockerfile, re.M))
    for name, svc in _processor_services(compose).items():
        assert (PROJECT_ROOT / svc["build"]["context"] / svc["build"]["dockerfile"]).is_file(), name
        assert svc["build"]["target"] in stages, name
    # only the model bootstrap gets the training libraries; everything that serves runs the lean image
    assert {n for n, s in _processor_services(compose).items() if s["image"] == "processor:train"} == {"train"}
    assert compose["services"]["train"]["command"] == ["models", "bootstrap"]
    pom = (PROJECT_ROOT / "deploy/local/kafka/pom.xml").read_text(encoding="utf-8")
    match = re.search(r"<kafka.version>([^<]+)</kafka.version>", pom)
    assert match is not None
    assert compose["services"]["kafka"]["image"] == f"apache/kafka:{match[1]}"
    # docs/design.md §4: Redis runs with AOF
    assert "--appendonly yes" in " ".join(compose["services"]["redis"]["command"])


def test_bootstrap_and_redis_urls_name_compose_services(compose: dict[str, Any]) -> None:
    kafka_env = compose["services"]["kafka"]["environment"]
    internal = [a.split("//")[1] for a in kafka_env["KAFKA_ADVERTISED_LISTENERS"].split(",") if "kafka:" in a]
    for name, svc in _processor_services(compose).items():
        env = svc["environment"]
        assert env["PROCESSOR_KAFKA__BOOTSTRAP_SERVERS"] in internal, name
        assert env["PROCESSOR_REDIS__URL"].startswith("redis://redis:"), name
        # Redis requires a password and every role sends it (the same variable, no default)
        assert env["PROCESSOR_REDIS__PASSWORD"] == compose["services"]["redis"]["environment"]["REDIS_PASSWORD"], name
    assert re.fullmatch(r"\$\{REDIS_PASSWORD:\?[^}]+\}", compose["services"]["redis"]["environment"]["REDIS_PASSWORD"])
    redis_svc = compose["services"]["redis"]
    assert '--requirepass "$$REDIS_PASSWORD"' in " ".join(redis_svc["command"])
    assert "REDISCLI_AUTH" in " ".join(redis_svc["healthcheck"]["test"])  # the health check authenticates too


def _published(svc: dict[str, Any]) -> list[tuple[str, int, int]]:
    """(host address, host port, container port) of each published port."""
    out = []
    for spec in svc.get("ports", []):
        address, host, container = (
            str(spec).split(" ")[0].rsplit(":", 2) if str(spec).count(":") == 2 else ("", *str(spec).split(":"))
        )
        out.append((address, int(host), int(container)))
    return out


def test_safe_by_default(compose: dict[str, Any]) -> None:
    services = compose["services"]
    # Redis and the processors publish nothing; whatever is published listens on this host only
    assert "ports" not in services["redis"] and "ports" not in services["processor"]
    published = {name: _published(svc) for name, svc in services.items() if svc.get("ports")}
    assert published
    for name, ports in published.items():
        for address, host, _ in ports:
            assert address == "127.0.0.1", f"{name} publishes {host} on every interface"
            assert host not in LOCAL_STACK_PORTS, f"{name}: host port {host} clashes with make stack-up or the CLI"
    # Grafana's admin password has no default: compose refuses to start without .env
    password = services["grafana"]["environment"]["GF_SECURITY_ADMIN_PASSWORD"]
    assert re.fullmatch(r"\$\{GRAFANA_ADMIN_PASSWORD:\?[^}]+\}", password)
    assert services["grafana"]["environment"]["GF_AUTH_ANONYMOUS_ENABLED"] == "false"


def test_processors_scale(compose: dict[str, Any]) -> None:
    """`--scale processor=N`: no fixed transactional id (it defaults to group-hostname), no host port."""
    processor = compose["services"]["processor"]
    assert "PROCESSOR_KAFKA__TRANSACTIONAL_ID" not in processor["environment"]
    assert "container_name" not in processor and "hostname" not in processor
    assert "ports" not in processor


def test_ports_and_health_checks_agree_with_the_roles(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for role, port in ROLE_PORTS.items():
        svc = services[role]
        assert all(container == port for _, _, container in _published(svc)), role
        assert svc["environment"]["HEALTHCHECK_URL"] == f"http://127.0.0.1:{port}/healthz", role
    assert int(services["processor"]["environment"]["PROCESSOR_METRICS__PORT"]) == ROLE_PORTS["processor"]
    for name in ("kafka", "redis", "prometheus", "grafana"):
        assert "test" in services[name]["healthcheck"], name
    dockerfile = (PROJECT_ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert f"HEALTHCHECK_URL=http://127.0.0.1:{ROLE_PORTS['processor']}/healthz" in dockerfile
    assert re.search(r"^USER 10001", dockerfile, re.M)  # never root
    assert 'ENTRYPOINT ["python", "-m", "processor"]' in dockerfile


def test_every_mounted_host_path_exists(compose: dict[str, Any]) -> None:
    missing = []
    for name, svc in compose["services"].items():
        for volume in svc.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./") and not (PROJECT_ROOT / source).exists():
                missing.append(f"{name}: {source}")
    assert missing == []


def test_prometheus_scrapes_the_roles_and_loads_the_rules(compose: dict[str, Any]) -> None:
    config = yaml.safe_load((PROJECT_ROOT / "deploy/prometheus/prometheus.yml").read_text(encoding="utf-8"))
    mounts = dict(v.split(":")[:2] for v in compose["services"]["prometheus"]["volumes"] if v.startswith("./"))
    host_dir = {container: host for host, container in mounts.items()}["/etc/prometheus"]
    for rule_file in config["rule_files"]:
        relative = Path(host_dir) / Path(rule_file).relative_to("/etc/prometheus")
        path = relative.as_posix().removeprefix("./")
        assert (PROJECT_ROOT / path).is_file(), path
    targets = {t for job in config["scrape_configs"] for sc in job.get("static_configs", []) for t in sc["targets"]}
    # the processors' replicas are found by DNS (the service name resolves to every replica)
    targets |= {
        f"{name}:{sd['port']}"
        for job in config["scrape_configs"]
        for sd in job.get("dns_sd_configs", [])
        for name in sd["names"]
    }
    for role, port in ROLE_PORTS.items():
        assert f"{role}:{port}" in targets, role
    for target in targets - {"localhost:9090"}:
        assert target.split(":")[0] in compose["services"], target


def test_grafana_provisions_the_datasource_and_the_dashboards(compose: dict[str, Any]) -> None:
    grafana = compose["services"]["grafana"]
    mounts = {v.split(":")[1]: v.split(":")[0] for v in grafana["volumes"] if v.startswith("./")}
    provisioning = PROJECT_ROOT / mounts["/etc/grafana/provisioning"]
    datasource = yaml.safe_load((provisioning / "datasources/prometheus.yml").read_text(encoding="utf-8"))
    assert datasource["datasources"][0]["url"] == "http://prometheus:9090"
    provider = yaml.safe_load((provisioning / "dashboards/processor.yml").read_text(encoding="utf-8"))
    dashboards_dir = provider["providers"][0]["options"]["path"]
    assert dashboards_dir in mounts
    dashboard = (Path(mounts[dashboards_dir]) / "processor.json").as_posix().removeprefix("./")
    assert (PROJECT_ROOT / dashboard).is_file()
