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
    return {name: svc for name, svc in compose["services"].items() if svc.get("image") == "processor:local"}


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
    for name, svc in _processor_services(compose).items():
        assert (PROJECT_ROOT / svc["build"]["context"] / svc["build"]["dockerfile"]).is_file(), name
    pom = (PROJECT_ROOT / "deploy/local/kafka/pom.xml").read_text(encoding="utf-8")
    match = re.search(r"<kafka.version>([^<]+)</kafka.version>", pom)
    assert match is not None
    assert compose["services"]["kafka"]["image"] == f"apache/kafka:{match[1]}"
    assert "--appendonly" in compose["services"]["redis"]["command"]  # DESIGN.md: Redis runs with AOF


def test_bootstrap_and_redis_urls_name_compose_services(compose: dict[str, Any]) -> None:
    kafka_env = compose["services"]["kafka"]["environment"]
    internal = [a.split("//")[1] for a in kafka_env["KAFKA_ADVERTISED_LISTENERS"].split(",") if "kafka:" in a]
    for name, svc in _processor_services(compose).items():
        env = svc["environment"]
        assert env["PROCESSOR_KAFKA__BOOTSTRAP_SERVERS"] in internal, name
        assert env["PROCESSOR_REDIS__URL"].startswith("redis://redis:"), name


def test_ports_and_health_checks_agree_with_the_roles(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for role, port in ROLE_PORTS.items():
        svc = services[role]
        assert f"{port}:{port}" in svc["ports"], role
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
    targets = {t for job in config["scrape_configs"] for sc in job["static_configs"] for t in sc["targets"]}
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
