"""The schema registry of the local stack, and private registry processes a test may stop.

Test modules cannot import a conftest; what they share about the registry lives here.
"""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from processor.config import PROJECT_ROOT

#: The registry `deploy/local/stack.sh up` starts (Apicurio's Confluent-compatible API).
REGISTRY_URL = os.environ.get(
    "PROCESSOR_SCHEMA_REGISTRY__URL", f"http://127.0.0.1:{os.environ.get('REGISTRY_PORT', '8085')}/apis/ccompat/v7"
)
INPUT_SCHEMAS = PROJECT_ROOT / "schemas" / "input"


def registry_jar() -> Path:
    """The runnable registry jar the stack built (its cache under STACK_DIR)."""
    stack_dir = Path(os.environ.get("STACK_DIR", PROJECT_ROOT / ".local"))
    return stack_dir / "registry" / "apicurio-registry-runner.jar"


def base_url(api_url: str) -> str:
    return api_url.split("/apis/", 1)[0]


def ready(api_url: str) -> bool:
    try:
        return httpx.get(f"{base_url(api_url)}/health/ready", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def unique_topic(prefix: str = "it") -> str:
    return f"{prefix}.{uuid.uuid4().hex[:10]}.raw"


def avro_serializer(client: SchemaRegistryClient, schema_file: str) -> AvroSerializer:
    """confluent_kafka's own serializer (TopicNameStrategy, auto-registering) for one input schema file."""
    return AvroSerializer(client, (INPUT_SCHEMAS / schema_file).read_text(encoding="utf-8"))


def serialize(serializer: AvroSerializer, topic: str, record: dict[str, Any]) -> bytes:
    value = serializer(record, SerializationContext(topic, MessageField.VALUE))
    assert value is not None
    return bytes(value)


def _java() -> str:
    """The java deploy/local/stack.sh uses: $JAVA_HOME's when set."""
    home = os.environ.get("JAVA_HOME")
    return str(Path(home) / "bin" / "java") if home and (Path(home) / "bin" / "java").exists() else "java"


class PrivateRegistry:
    """One more registry process from the stack's jar, on its own port and H2 file, for a test that
    stops and restarts it (the shared one keeps serving everybody else)."""

    def __init__(self, port: int, data_dir: Path, log: Path) -> None:
        self.port = port
        self.data_dir = data_dir
        self.log = log
        self.url = f"http://127.0.0.1:{port}/apis/ccompat/v7"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float = 90) -> float:
        """Start it and wait for /health/ready; the seconds that took."""
        jar = registry_jar()
        assert jar.is_file(), f"{jar} is missing: `make stack-up` builds it"
        env = {**os.environ, "REGISTRY_DATASOURCE_URL": f"jdbc:h2:file:{self.data_dir}/registry", "LOG_LEVEL": "WARN"}
        started = time.monotonic()
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                [_java(), "-Xms64m", "-Xmx384m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
                 "-Dquarkus.http.host=127.0.0.1", f"-Dquarkus.http.port={self.port}", "-jar", str(jar)],
                env=env, stdout=out, stderr=out,
            )  # fmt: skip
        while not ready(self.url):
            assert self.proc.poll() is None, self.log.read_text()[-3000:]
            assert time.monotonic() - started < timeout_s, "the private registry did not become ready"
            time.sleep(0.2)
        return time.monotonic() - started

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None
