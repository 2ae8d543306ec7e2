"""deploy/k8s: valid against the Kubernetes JSON schemas and consistent with the code.

Core kinds are validated (strictly: no unknown fields) with the Kubernetes schemas bundled in the
PyPI package kubernetes-validate; the custom resources (KEDA, Prometheus Operator) with the CRD
schemas of @kubernetes-models (deploy/k8s/validate, installed by `make setup`). Then the
manifests are checked against the code: settings, secrets, ports, probes, selectors, the
autoscaler's ceiling and the termination grace period.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from kubernetes_validate.utils import ValidationError as K8sValidationError

from processor import __version__
from processor.app import _TXN_TIMEOUT_S
from processor.config import KafkaSettings, MetricsSettings, ProcessingSettings, RedisSettings, TopicsSettings
from processor.settings_reference import env_variables

K8S = Path(__file__).resolve().parents[3] / "deploy" / "k8s"
KUBERNETES_VERSION = "1.33"
CUSTOM_KINDS = {"ScaledObject", "TriggerAuthentication", "ServiceMonitor"}
#: Secret-typed settings: the only ones that may (and must) come from a Secret.
SECRET_SETTINGS = {
    "PROCESSOR_KAFKA__SASL_PASSWORD",
    "PROCESSOR_KAFKA__SSL_KEY_PASSWORD",
    "PROCESSOR_REDIS__PASSWORD",
}


def _documents() -> list[tuple[Path, dict[str, Any]]]:
    out = []
    for path in sorted(K8S.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if doc:
                out.append((path, doc))
    return out


@pytest.fixture(scope="module")
def manifests() -> dict[str, dict[str, Any]]:
    """kind -> the one manifest of that kind (kustomization excluded)."""
    docs = {doc["kind"]: doc for _, doc in _documents() if doc["kind"] != "Kustomization"}
    assert len(docs) == len(_documents()) - 1, "one manifest per kind is assumed below"
    return docs


def test_core_kinds_are_valid_against_the_kubernetes_schemas() -> None:
    errors = []
    checked = 0
    for path, doc in _documents():
        if doc["kind"] in CUSTOM_KINDS or doc["kind"] == "Kustomization":
            continue
        try:
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
            checked += 1
        except K8sValidationError as exc:
            errors.append(f"{path.name}: {'.'.join(str(p) for p in exc.path)}: {exc.message}")
    assert errors == []
    assert checked >= 6


def test_the_kubernetes_schemas_catch_mistakes(manifests: dict[str, dict[str, Any]]) -> None:
    broken = json.loads(json.dumps(manifests["Deployment"]))
    broken["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] = "metrics"
    with pytest.raises(K8sValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)
    broken = json.loads(json.dumps(manifests["Service"]))
    broken["spec"]["selectors"] = broken["spec"].pop("selector")  # a typo: unknown field
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


def test_custom_resources_are_valid_against_their_crd_schemas() -> None:
    results = _node_validate(*sorted(K8S.glob("*.yaml")))
    custom = [r for r in results if r["kind"].split("/")[-1] in CUSTOM_KINDS]
    assert {r["kind"].split("/")[-1] for r in custom} == CUSTOM_KINDS
    assert [r for r in custom if r["status"] != "valid"] == []


def test_the_crd_schemas_catch_mistakes(tmp_path: Path, manifests: dict[str, dict[str, Any]]) -> None:
    broken = json.loads(json.dumps(manifests["ScaledObject"]))
    broken["spec"]["maxReplicaCount"] = "twelve"
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(broken))
    assert [r["status"] for r in _node_validate(path)] == ["invalid"]


def _pod(manifests: dict[str, dict[str, Any]]) -> dict[str, Any]:
    pod: dict[str, Any] = manifests["Deployment"]["spec"]["template"]
    return pod


def _container(manifests: dict[str, dict[str, Any]]) -> dict[str, Any]:
    container: dict[str, Any] = _pod(manifests)["spec"]["containers"][0]
    return container


def test_every_variable_is_a_real_setting_and_secrets_come_from_the_secret(
    manifests: dict[str, dict[str, Any]],
) -> None:
    known = env_variables()
    config = manifests["ConfigMap"]["data"]
    assert set(config) - known == set()
    assert set(config) & SECRET_SETTINGS == set(), "a secret in a ConfigMap"
    container = _container(manifests)
    assert container["envFrom"] == [{"configMapRef": {"name": manifests["ConfigMap"]["metadata"]["name"]}}]
    secret_name = manifests["Secret"]["metadata"]["name"]
    secret_keys = set(manifests["Secret"]["stringData"])
    for item in container["env"]:
        assert item["name"] in known, item["name"]
        ref = item["valueFrom"]["secretKeyRef"]
        assert item["name"] in SECRET_SETTINGS and ref["name"] == secret_name and ref["key"] in secret_keys
    # the settings the ConfigMap asks for are complete (what the settings model itself refuses)
    KafkaSettings.model_validate(
        {
            "security_protocol": config["PROCESSOR_KAFKA__SECURITY_PROTOCOL"],
            "sasl_mechanism": config["PROCESSOR_KAFKA__SASL_MECHANISM"],
            "sasl_username": config["PROCESSOR_KAFKA__SASL_USERNAME"],
            "sasl_password": "from-the-secret",
        }
    )
    RedisSettings.model_validate({"url": config["PROCESSOR_REDIS__URL"]})
    for volume in _pod(manifests)["spec"]["volumes"]:
        if "secret" in volume:
            assert volume["secret"]["secretName"] == secret_name
            assert {i["key"] for i in volume["secret"]["items"]} <= secret_keys


def test_image_user_ports_and_probes_match_the_code(manifests: dict[str, dict[str, Any]]) -> None:
    container = _container(manifests)
    assert container["image"] == f"processor:{__version__}"
    assert container["args"] == ["run"]
    port = int(manifests["ConfigMap"]["data"].get("PROCESSOR_METRICS__PORT", MetricsSettings().port))
    assert container["ports"] == [{"name": "metrics", "containerPort": port, "protocol": "TCP"}]
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}
    security = _pod(manifests)["spec"]["securityContext"]
    assert security["runAsNonRoot"] is True and security["runAsUser"] == 10001  # the Dockerfile's user
    models_dir = manifests["ConfigMap"]["data"]["PROCESSOR_MODELS__DIR"]
    assert models_dir in {m["mountPath"] for m in container["volumeMounts"]}
    claims = {
        v["persistentVolumeClaim"]["claimName"]
        for v in _pod(manifests)["spec"]["volumes"]
        if "persistentVolumeClaim" in v
    }
    assert claims == {manifests["PersistentVolumeClaim"]["metadata"]["name"]}


def test_selectors_tie_service_monitor_and_budget_to_the_pods(manifests: dict[str, dict[str, Any]]) -> None:
    pod_labels = _pod(manifests)["metadata"]["labels"]
    service = manifests["Service"]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert manifests["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    monitor = manifests["ServiceMonitor"]["spec"]
    assert monitor["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert {e["port"] for e in monitor["endpoints"]} <= {p["name"] for p in service["spec"]["ports"]}


def test_autoscaling_never_runs_more_processors_than_partitions(manifests: dict[str, dict[str, Any]]) -> None:
    config = manifests["ConfigMap"]["data"]
    scaled = manifests["ScaledObject"]["spec"]
    partitions = int(config.get("PROCESSOR_TOPICS__RAW_PARTITIONS", TopicsSettings().raw_partitions))
    assert 1 <= scaled["minReplicaCount"] <= scaled["maxReplicaCount"] <= partitions
    assert scaled["scaleTargetRef"]["name"] == manifests["Deployment"]["metadata"]["name"]
    (trigger,) = scaled["triggers"]
    meta = trigger["metadata"]
    assert trigger["type"] == "kafka"
    assert meta["allowIdleConsumers"] == "false"  # the scaler itself caps at the partition count
    assert meta["topic"] == config.get("PROCESSOR_TOPICS__RAW", TopicsSettings().raw)
    assert meta["consumerGroup"] == config.get("PROCESSOR_KAFKA__GROUP_ID", KafkaSettings().group_id)
    assert meta["bootstrapServers"] == config["PROCESSOR_KAFKA__BOOTSTRAP_SERVERS"]
    assert trigger["authenticationRef"]["name"] == manifests["TriggerAuthentication"]["metadata"]["name"]
    keda_sasl = {"PLAIN": "plaintext", "SCRAM-SHA-256": "scram_sha256", "SCRAM-SHA-512": "scram_sha512"}
    assert meta["sasl"] == keda_sasl[config["PROCESSOR_KAFKA__SASL_MECHANISM"]]
    assert meta["tls"] == ("enable" if config["PROCESSOR_KAFKA__SECURITY_PROTOCOL"].endswith("SSL") else "disable")


def test_shutdown_fits_in_the_termination_grace_period(manifests: dict[str, dict[str, Any]]) -> None:
    """SIGTERM: finish the batch being filled, commit it (send offsets + commit, each under a
    deadline), close. The grace period must outlast that, or Kubernetes kills mid-commit."""
    grace = _pod(manifests)["spec"]["terminationGracePeriodSeconds"]
    batch_s = ProcessingSettings().batch_timeout_ms / 1000
    assert grace >= batch_s + 2 * _TXN_TIMEOUT_S + 10
    assert manifests["Deployment"]["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
