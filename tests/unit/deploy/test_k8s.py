"""deploy/k8s: valid against the Kubernetes JSON schemas and consistent with the code.

Core kinds are validated (strictly: no unknown fields) with the Kubernetes schemas bundled in the
PyPI package kubernetes-validate; the custom resources (KEDA, Prometheus Operator) with the CRD
schemas of @kubernetes-models (deploy/k8s/validate, installed by `make setup`). Then the
manifests of the three roles of the image (the processor, the ingestion gateway, the review app)
are checked against the code: each pod's settings load, secrets come from Secrets, image, user,
ports and probe paths are what the apps serve, selectors tie Services, ServiceMonitors and
budgets to their pods, the autoscaler's ceiling, transactional ids and the termination grace
periods. Each check is also run on broken copies of the manifests, so it is known to fail.
"""

from __future__ import annotations

import copy
import functools
import inspect
import json
import os
import shutil
import subprocess
import threading
import typing
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import kubernetes_validate
import pytest
import yaml
from kubernetes_validate.utils import ValidationError as K8sValidationError
from prometheus_client import CollectorRegistry
from pydantic import BaseModel, SecretStr
from starlette.routing import Route

from processor import __version__
from processor.checkpointing.transaction import TXN_TIMEOUT_S as _TXN_TIMEOUT_S
from processor.cli import _SERVICES, build_parser
from processor.config import ProcessingSettings, Settings, load_settings
from processor.errors import ConfigError
from processor.ingest import app as ingest_app
from processor.ingest.producer import EventProducer
from processor.monitoring import http as ops_http
from processor.review import server as review_server
from processor.review import web as review_web
from processor.review.decisions import _TXN_TIMEOUT_S as _REVIEW_TXN_TIMEOUT_S
from processor.settings_reference import env_variables

K8S = Path(__file__).resolve().parents[3] / "deploy" / "k8s"
KUBERNETES_VERSION = "1.33"
CUSTOM_KINDS = {"ScaledObject", "TriggerAuthentication", "ServiceMonitor"}
#: Not secret-typed (hashes), but kept in a Secret all the same: the client list is nobody's business.
KEPT_IN_SECRETS = {"PROCESSOR_INGEST__API_TOKENS"}

Manifests = dict[tuple[str, str], dict[str, Any]]


def _mentions_secret(annotation: Any) -> bool:
    return annotation is SecretStr or any(_mentions_secret(a) for a in typing.get_args(annotation))


def _secret_settings() -> set[str]:
    """Every setting typed as a secret (``SecretStr``, optional or inside a mapping)."""
    names = set()
    for section_name, section in Settings.model_fields.items():
        model = section.annotation
        if isinstance(model, type) and issubclass(model, BaseModel):
            for name, field in model.model_fields.items():
                if _mentions_secret(field.annotation):
                    names.add(f"PROCESSOR_{section_name.upper()}__{name.upper()}")
        elif _mentions_secret(model):
            names.add(f"PROCESSOR_{section_name.upper()}")
    return names


#: Secret-typed settings: the only ones (with KEPT_IN_SECRETS) that may, and must, come from a Secret.
SECRET_SETTINGS = _secret_settings()


# -- the apps' HTTP endpoints, read from the code ------------------------------------------------


def _processor_serves(path: str) -> bool:
    """Ask the processor's real ops endpoint (processor/monitoring/http.py) on a free port."""
    server = ops_http.serve(CollectorRegistry(), ops_http.Health(), "127.0.0.1", 0)
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}{path}"
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return int(response.status) == 200
        except urllib.error.HTTPError as exc:
            return exc.code != 404
    finally:
        server.shutdown()
        server.server_close()


@functools.cache
def _ingest_get_paths() -> frozenset[str]:
    class _NoKafka:  # the routes, without a producer connecting to a broker
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            pass

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(ingest_app, "EventProducer", _NoKafka)
        app: Any = ingest_app.create_app(load_settings(), CollectorRegistry())
    return frozenset(r.path for r in app.app.routes if isinstance(r, Route) and "GET" in (r.methods or ()))


@functools.cache
def _review_get_paths() -> frozenset[str]:
    app = review_web.create_app(SimpleNamespace(settings=load_settings()))  # type: ignore[arg-type]
    return frozenset(r.path for r in app.routes if isinstance(r, Route) and "GET" in (r.methods or ()))


@dataclass(frozen=True)
class Role:
    """One role of the image, as deploy/k8s runs it."""

    args: tuple[str, ...]
    port_name: str
    port: Callable[[Settings], int]
    serves: Callable[[str], bool]
    uses_redis: bool


ROLES = {
    "processor": Role(("run",), "metrics", lambda s: s.metrics.port, _processor_serves, uses_redis=True),
    "processor-ingest": Role(
        ("ingest", "serve"), "http", lambda s: s.ingest.port, lambda p: p in _ingest_get_paths(), uses_redis=False
    ),
    "processor-review": Role(
        ("review", "serve"), "http", lambda s: s.review.port, lambda p: p in _review_get_paths(), uses_redis=True
    ),
}


# -- reading the manifests -----------------------------------------------------------------------


def _documents() -> list[tuple[Path, dict[str, Any]]]:
    out = []
    for path in sorted(K8S.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if doc:
                out.append((path, doc))
    return out


@pytest.fixture(scope="module")
def manifests() -> Manifests:
    """(kind, name) -> the manifest (kustomization excluded)."""
    docs = {(d["kind"], d["metadata"]["name"]): d for _, d in _documents() if d["kind"] != "Kustomization"}
    assert len(docs) == len(_documents()) - 1, "a kind and name appear twice"
    return docs


def _all(m: Manifests, kind: str) -> dict[str, dict[str, Any]]:
    return {name: doc for (k, name), doc in m.items() if k == kind}


def _pod(deployment: dict[str, Any]) -> dict[str, Any]:
    pod: dict[str, Any] = deployment["spec"]["template"]
    return pod


def _container(deployment: dict[str, Any]) -> dict[str, Any]:
    (container,) = _pod(deployment)["spec"]["containers"]
    return dict(container)


def _autoscaled(m: Manifests) -> set[str]:
    return {s["spec"]["scaleTargetRef"]["name"] for s in _all(m, "ScaledObject").values()}


def _pods_run(m: Manifests, name: str) -> int:
    """The most pods the Deployment runs: its replicas, or the autoscaler's ceiling."""
    scaled = [
        s["spec"]["maxReplicaCount"]
        for s in _all(m, "ScaledObject").values()
        if s["spec"]["scaleTargetRef"]["name"] == name
    ]
    return max([int(_all(m, "Deployment")[name]["spec"].get("replicas", 1)), *scaled])


def _pod_env(m: Manifests, deployment: dict[str, Any]) -> dict[str, str]:
    """The container's environment: its ConfigMaps in order (later wins), then env, secrets resolved
    from the example Secrets."""
    container = _container(deployment)
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        assert set(source) == {"configMapRef"}, f"{deployment['metadata']['name']}: envFrom only from ConfigMaps"
        name = source["configMapRef"]["name"]
        assert ("ConfigMap", name) in m, f"no ConfigMap {name}"
        env.update(m[("ConfigMap", name)]["data"])
    for item in container.get("env", []):
        if "value" in item:
            env[item["name"]] = item["value"]
        else:
            ref = item["valueFrom"]["secretKeyRef"]
            assert ("Secret", ref["name"]) in m, f"no Secret {ref['name']}"
            data = m[("Secret", ref["name"])]["stringData"]
            assert ref["key"] in data, f"Secret {ref['name']} has no key {ref['key']}"
            env[item["name"]] = data[ref["key"]]
    return env


def _pod_settings(m: Manifests, deployment: dict[str, Any]) -> Settings:
    """The settings the pod's process loads (what the settings model refuses fails here)."""
    with pytest.MonkeyPatch.context() as mp:
        for name in list(os.environ):
            if name.startswith("PROCESSOR_"):
                mp.delenv(name)
        for name, value in _pod_env(m, deployment).items():
            if name.startswith("PROCESSOR_"):
                mp.setenv(name, value)
        return load_settings()


def _mounted_files(deployment: dict[str, Any]) -> set[str]:
    """Files the container sees from Secret volumes: <mountPath>/<item path>."""
    volumes = {v["name"]: v for v in _pod(deployment)["spec"]["volumes"]}
    files = set()
    for mount in _container(deployment).get("volumeMounts", []):
        secret = volumes[mount["name"]].get("secret")
        if secret is not None:
            files |= {f"{mount['mountPath']}/{item['path']}" for item in secret.get("items", [])}
    return files


def _writable_mounts(deployment: dict[str, Any]) -> set[str]:
    return {v["mountPath"] for v in _container(deployment).get("volumeMounts", []) if not v.get("readOnly", False)}


# -- schema validation ---------------------------------------------------------------------------


def test_core_kinds_are_valid_against_the_kubernetes_schemas() -> None:
    errors = []
    checked = set()
    for path, doc in _documents():
        if doc["kind"] in CUSTOM_KINDS or doc["kind"] == "Kustomization":
            continue
        try:
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
            checked.add((path.name, doc["kind"]))
        except K8sValidationError as exc:
            errors.append(f"{path.name}: {doc['kind']}: {'.'.join(str(p) for p in exc.path)}: {exc.message}")
    assert errors == []
    for app in ("ingest", "review"):
        assert {k for f, k in checked if f == f"{app}.yaml"} == {
            "ConfigMap",
            "Deployment",
            "Service",
            "PodDisruptionBudget",
        } | ({"PersistentVolumeClaim"} if app == "ingest" else set())
        assert (f"{app}-secret.example.yaml", "Secret") in checked


def test_the_kubernetes_schemas_catch_mistakes(manifests: Manifests) -> None:
    broken = copy.deepcopy(manifests[("Deployment", "processor")])
    broken["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] = "metrics"
    with pytest.raises(K8sValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)
    broken = copy.deepcopy(manifests[("Service", "processor")])
    broken["spec"]["selectors"] = broken["spec"].pop("selector")  # a typo: unknown field
    with pytest.raises(K8sValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)
    broken = copy.deepcopy(manifests[("Deployment", "processor-ingest")])
    broken["spec"]["template"]["spec"]["containers"][0]["lifecycle"]["preStop"]["sleep"] = {"second": 5}
    with pytest.raises(K8sValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)
    broken = copy.deepcopy(manifests[("PodDisruptionBudget", "processor-review")])
    broken["spec"]["maxUnavailable"] = [1]
    with pytest.raises(K8sValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


def _node_validate(*files: Path) -> list[dict[str, Any]]:
    node = shutil.which("node")
    assert node is not None, "node is needed for the CRD validator: `make setup` installs it"
    validator = K8S / "validate"
    assert (validator / "node_modules" / "@kubernetes-models").is_dir(), (
        "run `make setup` (npm ci in deploy/k8s/validate)"
    )
    result = subprocess.run(
        [node, "validate.mjs", *map(str, files)], cwd=validator, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.stderr.strip() == "" or result.returncode != 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_custom_resources_are_valid_against_their_crd_schemas(manifests: Manifests) -> None:
    results = _node_validate(*sorted(K8S.glob("*.yaml")))
    custom = [r for r in results if r["kind"].split("/")[-1] in CUSTOM_KINDS]
    assert {r["kind"].split("/")[-1] for r in custom} == CUSTOM_KINDS
    assert [r for r in custom if r["status"] != "valid"] == []
    monitors = {r["name"] for r in custom if r["kind"].endswith("/ServiceMonitor")}
    assert monitors == set(_all(manifests, "ServiceMonitor")) >= {"processor-ingest", "processor-review"}


def test_the_crd_schemas_catch_mistakes(tmp_path: Path, manifests: Manifests) -> None:
    broken = copy.deepcopy(manifests[("ScaledObject", "processor")])
    broken["spec"]["maxReplicaCount"] = "twelve"
    monitor = copy.deepcopy(manifests[("ServiceMonitor", "processor-review")])
    monitor["spec"]["endpoints"][0]["scheme"] = "gopher"  # only http / https
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump_all([broken, monitor]))
    assert [r["status"] for r in _node_validate(path)] == ["invalid", "invalid"]


def test_kustomization_applies_every_manifest_but_the_secret_examples() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text(encoding="utf-8"))
    files = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert set(kustomization["resources"]) == {f for f in files if not f.endswith(".example.yaml")}
    assert len(kustomization["resources"]) == len(set(kustomization["resources"]))


# -- consistency with the code: each check is a function, run on the manifests and on broken copies


def _check_settings_and_secrets(m: Manifests) -> None:
    """Every ConfigMap key and variable is a real setting; secrets come only from Secrets; each pod's
    settings load (complete Kafka and Redis security, well-formed token hashes...)."""
    known = env_variables()
    for name, config in _all(m, "ConfigMap").items():
        assert set(config["data"]) - known == set(), name
        assert set(config["data"]) & (SECRET_SETTINGS | KEPT_IN_SECRETS) == set(), f"a secret in ConfigMap {name}"
    for name, deployment in _all(m, "Deployment").items():
        for item in _container(deployment).get("env", []):
            assert item["name"] in known, f"{name}: {item['name']} is not a setting"
            assert item["name"] in SECRET_SETTINGS | KEPT_IN_SECRETS, f"{name}: {item['name']} belongs in a ConfigMap"
            assert set(item) == {"name", "valueFrom"} and set(item["valueFrom"]) == {"secretKeyRef"}, item
        for volume in _pod(deployment)["spec"]["volumes"]:
            if "secret" in volume:
                secret = m.get(("Secret", volume["secret"]["secretName"]))
                assert secret is not None, volume
                assert {i["key"] for i in volume["secret"]["items"]} <= set(secret["stringData"]), volume
        _pod_settings(m, deployment)  # raises ConfigError on anything the settings model refuses


def _check_each_app_has_its_secrets(m: Manifests) -> None:
    """What each app refuses to work without, and the files its TLS settings name."""
    for name, deployment in _all(m, "Deployment").items():
        settings = _pod_settings(m, deployment)
        mounted = _mounted_files(deployment)
        if settings.kafka.ssl_ca_location is not None:
            assert str(settings.kafka.ssl_ca_location) in mounted, f"{name}: Kafka CA not mounted"
        if ROLES[name].uses_redis:
            if settings.redis.tls_ca_file is not None:
                assert str(settings.redis.tls_ca_file) in mounted, f"{name}: Redis CA not mounted"
            if settings.redis.username is not None:
                assert settings.redis.password is not None, f"{name}: Redis ACL user without a password"
        if name == "processor-ingest":  # fails closed without them: every route answers 401
            assert settings.ingest.api_tokens, name
            assert settings.ingest.jira_webhook_secret is not None, name
        if name == "processor-review":
            assert settings.review.reviewers, f"{name}: nobody could sign in"
            if _pods_run(m, name) > 1:  # a random key per pod: a session would work on one replica only
                assert settings.review.session_secret is not None, name


def _check_image_user_and_hardening(m: Manifests) -> None:
    deployments = _all(m, "Deployment")
    assert set(deployments) == set(ROLES)
    parser = build_parser()
    for name, deployment in deployments.items():
        container = _container(deployment)
        assert container["image"] == f"processor:{__version__}", name
        assert tuple(container["args"]) == ROLES[name].args, name
        try:
            args = parser.parse_args(container["args"])
        except SystemExit:
            raise AssertionError(f"{name}: {container['args']} is not a command") from None
        sub = getattr(args, "ingest_command", None) or getattr(args, "review_command", None)
        assert (args.command, sub) in _SERVICES, f"{name}: {container['args']} is not a service command"
        pod = _pod(deployment)["spec"]
        security = pod["securityContext"]
        assert security["runAsNonRoot"] is True and security["runAsUser"] == 10001, name  # the Dockerfile's user
        assert security["seccompProfile"] == {"type": "RuntimeDefault"}, name
        own = container["securityContext"]
        assert own["readOnlyRootFilesystem"] is True and own["allowPrivilegeEscalation"] is False, name
        assert own["capabilities"]["drop"] == ["ALL"] and "add" not in own["capabilities"], name
        resources = container["resources"]
        assert {"cpu", "memory"} <= set(resources["requests"]) and "memory" in resources["limits"], name


def _check_ports_and_probes(m: Manifests) -> None:
    for name, deployment in _all(m, "Deployment").items():
        role = ROLES[name]
        container = _container(deployment)
        port = role.port(_pod_settings(m, deployment))
        assert container["ports"] == [{"name": role.port_name, "containerPort": port, "protocol": "TCP"}], name
        probes = {kind: container[kind]["httpGet"] for kind in ("startupProbe", "livenessProbe", "readinessProbe")}
        assert probes["livenessProbe"] == {"path": "/healthz", "port": role.port_name}, name
        assert probes["startupProbe"] == probes["livenessProbe"], name
        assert probes["readinessProbe"] == {"path": "/readyz", "port": role.port_name}, name
        for probe in probes.values():
            assert role.serves(probe["path"]), f"{name} does not serve {probe['path']}"


def _check_volumes(m: Manifests) -> None:
    """A read-only root: what an app writes is a mount; volume claims exist."""
    claims = set(_all(m, "PersistentVolumeClaim"))
    for name, deployment in _all(m, "Deployment").items():
        settings = _pod_settings(m, deployment)
        container = _container(deployment)
        mounts = {v["mountPath"] for v in container["volumeMounts"]}
        assert "/tmp" in _writable_mounts(deployment), f"{name}: no writable /tmp"
        if name == "processor":
            assert str(settings.models.dir) in mounts
        if name == "processor-ingest":
            assert str(settings.ingest.upload_dir) in _writable_mounts(deployment), f"{name}: uploads not writable"
        for volume in _pod(deployment)["spec"]["volumes"]:
            if "persistentVolumeClaim" in volume:
                assert volume["persistentVolumeClaim"]["claimName"] in claims, volume


def _check_selectors(m: Manifests) -> None:
    """Each Deployment has one Service and (when it runs several pods) one budget; each
    ServiceMonitor scrapes one Service on a named port and a path its app serves."""
    deployments = _all(m, "Deployment")
    pods = {name: _pod(d)["metadata"]["labels"] for name, d in deployments.items()}
    for name, deployment in deployments.items():
        assert deployment["spec"]["selector"]["matchLabels"].items() <= pods[name].items(), name

    def selected(selector: dict[str, str]) -> list[str]:
        return [name for name, labels in pods.items() if selector.items() <= labels.items()]

    services = _all(m, "Service")
    service_of: dict[str, str] = {}
    for name, service in services.items():
        targets = selected(service["spec"]["selector"])
        assert len(targets) == 1, f"Service {name} selects {targets}"
        target = targets[0]
        service_of[name] = target
        ports = {p["name"]: p["containerPort"] for p in _container(deployments[target])["ports"]}
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in ports and port["port"] == ports[port["targetPort"]], (name, port)
    assert sorted(service_of.values()) == sorted(deployments), "one Service per Deployment"
    budgeted = [
        t for b in _all(m, "PodDisruptionBudget").values() for t in selected(b["spec"]["selector"]["matchLabels"])
    ]
    assert sorted(budgeted) == sorted(n for n in deployments if _pods_run(m, n) > 1), "one budget per scaled Deployment"
    for name, monitor in _all(m, "ServiceMonitor").items():
        spec = monitor["spec"]
        matched = [
            s
            for s, svc in services.items()
            if spec["selector"]["matchLabels"].items() <= svc["metadata"]["labels"].items()
        ]
        assert len(matched) == 1, f"ServiceMonitor {name} selects {matched}"
        service = matched[0]
        if "jobLabel" in spec:
            assert spec["jobLabel"] in services[service]["metadata"]["labels"], name
        for endpoint in spec["endpoints"]:
            assert endpoint["port"] in {p["name"] for p in services[service]["spec"]["ports"]}, name
            assert ROLES[service_of[service]].serves(endpoint["path"]), f"{name}: {endpoint['path']} is not served"


def _check_transactional_ids(m: Manifests) -> None:
    """Several pods of one Deployment share its ConfigMaps: a transactional id set there would be
    one id for all of them (they would fence each other). The default, <group>-<hostname>, is the
    pod name, unique per pod; no pod may set its own hostname."""
    for name, deployment in _all(m, "Deployment").items():
        settings = _pod_settings(m, deployment)
        assert "hostname" not in _pod(deployment)["spec"], name
        if _pods_run(m, name) > 1:
            assert settings.kafka.transactional_id is None, name
            assert settings.review.transactional_id is None, name
            # new pod names after every restart: static membership would only delay the hand-over
            assert name != "processor" or settings.kafka.static_membership is False


def _ingest_stop_timeouts() -> dict[str, float]:
    """What `processor ingest serve` waits for on SIGTERM, read off a serve() that runs nothing."""
    captured: dict[str, Any] = {}
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(ingest_app, "http_server", SimpleNamespace(serve=lambda config: captured.update(vars(config))))
        mp.setattr(ingest_app, "create_app", lambda settings: None)
        ingest_app.serve(load_settings())
    flush = inspect.signature(EventProducer.close).parameters["timeout_s"].default
    return {"drain": float(captured["timeout_graceful_shutdown"]), "flush": float(flush)}


def _review_stop_timeouts(**review: Any) -> dict[str, Any]:
    """What `processor review serve` waits for on SIGTERM: uvicorn's drain and its thread joins
    (and the proxies it believes), read off a serve() that runs nothing."""
    captured: dict[str, Any] = {}
    joins: list[float] = []

    class _Thread(threading.Thread):
        def join(self, timeout: float | None = None) -> None:
            joins.append(float("inf") if timeout is None else timeout)
            super().join(timeout)

    idle = SimpleNamespace(run=lambda stop: None, close=lambda: None)
    context = SimpleNamespace(monitor=idle, ingest=idle, service=idle)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(review_server, "build_context", lambda settings, pipelines: context)
        mp.setattr(review_server, "create_app", lambda ctx: None)
        mp.setattr(review_server, "http_server", SimpleNamespace(serve=lambda config: captured.update(vars(config))))
        mp.setattr(review_server, "threading", SimpleNamespace(Thread=_Thread, Event=threading.Event))
        review_server.serve(load_settings(review=review), SimpleNamespace())  # type: ignore[arg-type]
    assert len(joins) == 2
    return {
        "drain": float(captured["timeout_graceful_shutdown"]),
        "joins": sum(joins),
        "forwarded_allow_ips": captured["forwarded_allow_ips"],
    }


def _check_shutdown_fits_in_the_grace_period(m: Manifests) -> None:
    """SIGTERM: the grace period must outlast what each app does before it exits, or Kubernetes
    kills it mid-commit (the processor) or mid-request (the servers)."""
    deployments = _all(m, "Deployment")
    for name, deployment in deployments.items():
        assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0, name
    grace = {name: _pod(d)["spec"]["terminationGracePeriodSeconds"] for name, d in deployments.items()}
    pre_stop = {
        name: _container(d).get("lifecycle", {}).get("preStop", {}).get("sleep", {}).get("seconds", 0)
        for name, d in deployments.items()
    }
    # the processor: finish the batch being filled, commit it (send offsets + commit, each under a deadline), close
    batch_s = ProcessingSettings().batch_timeout_ms / 1000
    assert grace["processor"] >= batch_s + 2 * _TXN_TIMEOUT_S + 10
    # the servers leave the Service's endpoints before they stop accepting
    assert pre_stop["processor-ingest"] >= 5 and pre_stop["processor-review"] >= 5
    # the gateway: drain requests, flush the producer (its threads stop within a 3 s metadata call)
    ingest = _ingest_stop_timeouts()
    assert grace["processor-ingest"] >= pre_stop["processor-ingest"] + ingest["drain"] + ingest["flush"] + 10
    # the review app: drain requests, join its threads, let a decision being committed finish
    review = _review_stop_timeouts()
    assert grace["processor-review"] >= pre_stop["processor-review"] + review["drain"] + review["joins"] + (
        _REVIEW_TXN_TIMEOUT_S + 10
    )


CHECKS = [
    _check_settings_and_secrets,
    _check_each_app_has_its_secrets,
    _check_image_user_and_hardening,
    _check_ports_and_probes,
    _check_volumes,
    _check_selectors,
    _check_transactional_ids,
    _check_shutdown_fits_in_the_grace_period,
]


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__.removeprefix("_check_"))
def test_the_manifests_agree_with_the_code(manifests: Manifests, check: Callable[[Manifests], None]) -> None:
    check(manifests)


def test_the_secret_typed_settings_are_found() -> None:
    assert {
        "PROCESSOR_KAFKA__SASL_PASSWORD",
        "PROCESSOR_KAFKA__SSL_KEY_PASSWORD",
        "PROCESSOR_REDIS__PASSWORD",
        "PROCESSOR_INGEST__JIRA_WEBHOOK_SECRET",
        "PROCESSOR_REVIEW__REVIEWERS",
        "PROCESSOR_REVIEW__SESSION_SECRET",
    } <= SECRET_SETTINGS
    assert "PROCESSOR_REVIEW__PORT" not in SECRET_SETTINGS


def test_the_review_app_believes_the_proxies_its_settings_name() -> None:
    """Behind the Ingress, uvicorn must take the forwarded scheme from the addresses the
    ConfigMap names, or every https form post fails the same-origin check."""
    assert _review_stop_timeouts(forwarded_allow_ips="10.1.2.3")["forwarded_allow_ips"] == "10.1.2.3"


def test_the_apps_serve_what_the_probes_ask_for() -> None:
    """The path readers above see the real endpoints (else every path check would pass or fail)."""
    assert _processor_serves("/readyz") and _processor_serves("/metrics") and not _processor_serves("/ready")
    assert {"/healthz", "/readyz", "/metrics"} <= _ingest_get_paths() and "/v1/events" not in _ingest_get_paths()
    assert {"/healthz", "/readyz", "/metrics"} <= _review_get_paths() and "/decide" not in _review_get_paths()


def _get(doc: dict[str, Any], *path: str | int) -> Any:
    for key in path:
        doc = doc[key]  # type: ignore[index]
    return doc


def _container_of(name: str) -> tuple[str | int, ...]:
    return ("Deployment", name, "spec", "template", "spec", "containers", 0)


def _set(*path: str | int, value: Any) -> Callable[[Manifests], None]:
    def mutate(m: Manifests) -> None:
        parent = _get(m[(str(path[0]), str(path[1]))], *path[2:-1])
        parent[path[-1]] = value

    return mutate


def _drop_env(name: str, variable: str) -> Callable[[Manifests], None]:
    def mutate(m: Manifests) -> None:
        container = _get(m[("Deployment", name)], *_container_of(name)[2:])
        container["env"] = [e for e in container["env"] if e["name"] != variable]

    return mutate


def _plain_env(name: str, variable: str) -> Callable[[Manifests], None]:
    def mutate(m: Manifests) -> None:
        container = _get(m[("Deployment", name)], *_container_of(name)[2:])
        for item in container["env"]:
            if item["name"] == variable:
                item.pop("valueFrom")
                item["value"] = "in-plain-sight"

    return mutate


def _drop_mount(name: str, mount: str) -> Callable[[Manifests], None]:
    def mutate(m: Manifests) -> None:
        container = _get(m[("Deployment", name)], *_container_of(name)[2:])
        container["volumeMounts"] = [v for v in container["volumeMounts"] if v["mountPath"] != mount]

    return mutate


def _drop_ca(name: str, key: str) -> Callable[[Manifests], None]:
    def mutate(m: Manifests) -> None:
        for volume in _get(m[("Deployment", name)], "spec", "template", "spec", "volumes"):
            if "secret" in volume:
                volume["secret"]["items"] = [i for i in volume["secret"]["items"] if i["key"] != key]

    return mutate


INGEST = _container_of("processor-ingest")
REVIEW = _container_of("processor-review")
BREAKAGES: list[tuple[Callable[[Manifests], None], Callable[[Manifests], None], str]] = [
    (
        _check_settings_and_secrets,
        _set("ConfigMap", "processor-ingest-config", "data", "PROCESSOR_INGEST__NO_SUCH", value="1"),
        "unknown setting",
    ),
    (
        _check_settings_and_secrets,
        _set("ConfigMap", "processor-ingest-config", "data", "PROCESSOR_INGEST__PORT", value="http"),
        "setting the model refuses",
    ),
    (
        _check_settings_and_secrets,
        _plain_env("processor-review", "PROCESSOR_REVIEW__SESSION_SECRET"),
        "secret in plain sight",
    ),
    (
        _check_settings_and_secrets,
        _set(*INGEST, "env", 1, "valueFrom", "secretKeyRef", "key", value="api-token"),
        "missing Secret key",
    ),
    (
        _check_settings_and_secrets,
        _drop_env("processor-ingest", "PROCESSOR_KAFKA__SASL_PASSWORD"),
        "SCRAM without a password",
    ),
    (
        _check_settings_and_secrets,
        _set("Secret", "processor-ingest-secrets", "stringData", "api-tokens", value='{"crm": "the-token"}'),
        "token, not its hash",
    ),
    (
        _check_each_app_has_its_secrets,
        _drop_env("processor-review", "PROCESSOR_REVIEW__SESSION_SECRET"),
        "per-pod session keys",
    ),
    (_check_each_app_has_its_secrets, _drop_env("processor-ingest", "PROCESSOR_INGEST__API_TOKENS"), "no tokens"),
    (_check_each_app_has_its_secrets, _drop_env("processor-review", "PROCESSOR_REDIS__PASSWORD"), "no Redis password"),
    (_check_each_app_has_its_secrets, _drop_ca("processor-review", "redis-ca.pem"), "Redis CA not mounted"),
    (_check_image_user_and_hardening, _set(*REVIEW[:-2], "securityContext", "runAsUser", value=0), "root"),
    (
        _check_image_user_and_hardening,
        _set(*INGEST, "securityContext", "readOnlyRootFilesystem", value=False),
        "writable root",
    ),
    (_check_image_user_and_hardening, _set(*INGEST, "args", value=["ingest", "server"]), "no such command"),
    (_check_image_user_and_hardening, _set(*REVIEW, "image", value="processor:latest"), "other image"),
    (_check_ports_and_probes, _set(*REVIEW, "ports", 0, "containerPort", value=8080), "wrong port"),
    (
        _check_ports_and_probes,
        _set("ConfigMap", "processor-review-config", "data", "PROCESSOR_REVIEW__PORT", value="9000"),
        "port moved",
    ),
    (_check_ports_and_probes, _set(*INGEST, "readinessProbe", "httpGet", "path", value="/ready"), "unserved path"),
    (_check_volumes, _drop_mount("processor-ingest", "/var/lib/processor/uploads"), "uploads on the read-only root"),
    (
        _check_volumes,
        _set(*INGEST[:-2], "volumes", 0, "persistentVolumeClaim", "claimName", value="nope"),
        "no such claim",
    ),
    (
        _check_selectors,
        _set("Service", "processor-review", "spec", "selector", "app.kubernetes.io/component", value="ingest"),
        "Service selects the wrong pods",
    ),
    (
        _check_selectors,
        _set("ServiceMonitor", "processor-review", "spec", "endpoints", 0, "port", value="metrics"),
        "no such Service port",
    ),
    (
        _check_selectors,
        _set("ServiceMonitor", "processor-ingest", "spec", "endpoints", 0, "path", value="/v1/metrics"),
        "unserved metrics path",
    ),
    (
        _check_selectors,
        _set(
            "PodDisruptionBudget",
            "processor-review",
            "spec",
            "selector",
            "matchLabels",
            "app.kubernetes.io/component",
            value="reviews",
        ),
        "budget selects nothing",
    ),
    (
        _check_selectors,
        _set("Service", "processor-ingest", "spec", "ports", 0, "targetPort", value="metrics"),
        "no such container port",
    ),
    (
        _check_transactional_ids,
        _set("ConfigMap", "processor-review-config", "data", "PROCESSOR_REVIEW__TRANSACTIONAL_ID", value="review-1"),
        "one id for every replica",
    ),
    (_check_transactional_ids, _set(*REVIEW[:-2], "hostname", value="review"), "one hostname for every replica"),
    (
        _check_shutdown_fits_in_the_grace_period,
        _set(*REVIEW[:-2], "terminationGracePeriodSeconds", value=30),
        "review killed mid-commit",
    ),
    (
        _check_shutdown_fits_in_the_grace_period,
        _set(*INGEST[:-2], "terminationGracePeriodSeconds", value=30),
        "gateway killed mid-flush",
    ),
    (
        _check_shutdown_fits_in_the_grace_period,
        _set(*INGEST, "lifecycle", "preStop", "sleep", "seconds", value=0),
        "no pre-stop wait",
    ),
]


@pytest.mark.parametrize(("check", "mutate", "mistake"), BREAKAGES, ids=[b[2] for b in BREAKAGES])
def test_the_checks_catch_mistakes(
    manifests: Manifests, check: Callable[[Manifests], None], mutate: Callable[[Manifests], None], mistake: str
) -> None:
    broken = copy.deepcopy(manifests)
    mutate(broken)
    with pytest.raises((AssertionError, ConfigError)):  # a failed check, or a setting the model refuses
        check(broken)


def test_autoscaling_never_runs_more_processors_than_partitions(manifests: Manifests) -> None:
    settings = _pod_settings(manifests, manifests[("Deployment", "processor")])
    scaled = manifests[("ScaledObject", "processor")]["spec"]
    assert 1 <= scaled["minReplicaCount"] <= scaled["maxReplicaCount"] <= settings.topics.raw_partitions
    assert scaled["scaleTargetRef"]["name"] == "processor"
    (trigger,) = scaled["triggers"]
    meta = trigger["metadata"]
    assert trigger["type"] == "kafka"
    assert meta["allowIdleConsumers"] == "false"  # the scaler itself caps at the partition count
    assert meta["topic"] == settings.topics.raw
    assert meta["consumerGroup"] == settings.kafka.group_id
    assert meta["bootstrapServers"] == settings.kafka.bootstrap_servers
    assert trigger["authenticationRef"]["name"] in _all(manifests, "TriggerAuthentication")
    keda_sasl = {"PLAIN": "plaintext", "SCRAM-SHA-256": "scram_sha256", "SCRAM-SHA-512": "scram_sha512"}
    assert settings.kafka.sasl_mechanism is not None
    assert meta["sasl"] == keda_sasl[settings.kafka.sasl_mechanism]
    assert meta["tls"] == ("enable" if settings.kafka.security_protocol.endswith("SSL") else "disable")
