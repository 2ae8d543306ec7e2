"""Bring your own events: a team's own event type, from a built wheel, following docs/your-events.md.

The wheel is built out of tree and installed into a fresh virtualenv in a temporary directory
(nothing of the checkout on its path); ``processor init`` writes a project for a type the
repository does not have (``payment_authorized``), the files of docs/your-events.md replace its
example fields, and the commands of that page train, promote and run it against the real broker
and Redis (unique topics and key prefix).
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import fastavro
import pytest
from confluent_kafka import Consumer, Producer

from processor.config import PROJECT_ROOT

from .conftest import BOOTSTRAP, REDIS_URL

DOC = PROJECT_ROOT / "docs" / "your-events.md"
EVENT_TYPE = "payment_authorized"
_FILE_BLOCK = re.compile(r"<!-- file: (?P<path>[^ ]+) -->\n```[a-z]*\n(?P<text>.*?)\n```\n", re.DOTALL)


def doc_files() -> dict[str, str]:
    """The files docs/your-events.md prints, by their path in the project."""
    return {m["path"]: m["text"] + "\n" for m in _FILE_BLOCK.finditer(DOC.read_text())}


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtualenv outside the repository with the wheel (built out of tree) installed."""
    root = tmp_path_factory.mktemp("byo")
    assert not root.resolve().is_relative_to(PROJECT_ROOT)
    dist = root / "dist"
    before = _checkout_state()
    build = subprocess.run(
        ["bash", str(PROJECT_ROOT / "deploy" / "build-wheel.sh"), str(dist)],
        env={**os.environ, "PYTHON": sys.executable},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert build.returncode == 0, build.stderr[-3000:]
    assert _checkout_state() == before, "building the wheel wrote into the checkout"
    wheel = next(dist.glob("processor-*.whl"))
    env_dir = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(env_dir)], check=True, timeout=120)
    install = subprocess.run(
        [str(env_dir / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check", f"{wheel}[train]"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert install.returncode == 0, install.stderr[-3000:]
    return env_dir


def _checkout_state() -> dict[str, float]:
    """What a build must not touch: build/ and the egg-info's files, by modification time."""
    paths = [PROJECT_ROOT / "build", *sorted((PROJECT_ROOT / "processor.egg-info").glob("*"))]
    return {str(p): p.stat().st_mtime for p in paths if p.exists()}


def test_a_team_runs_its_own_event_type_from_the_wheel(venv: Path, tmp_path: Path) -> None:
    run = uuid.uuid4().hex[:10]
    topics = {name: f"byo.{run}.{name}" for name in ("raw", "scored", "review", "quarantine", "feedback")}
    env = {
        "PATH": f"{venv / 'bin'}:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "LANG": "C.UTF-8",
        "PROCESSOR_KAFKA__BOOTSTRAP_SERVERS": BOOTSTRAP,
        "PROCESSOR_KAFKA__GROUP_ID": f"byo-{run}",
        "PROCESSOR_KAFKA__TRANSACTIONAL_ID": f"byo-{run}",
        "PROCESSOR_REDIS__URL": REDIS_URL,
        "PROCESSOR_REDIS__KEY_PREFIX": f"byo:{run}:",
        "PROCESSOR_METRICS__ENABLED": "false",
        "PROCESSOR_TOPICS__RAW_PARTITIONS": "2",
        "PROCESSOR_TOPICS__OUTPUT_PARTITIONS": "2",
        **{f"PROCESSOR_TOPICS__{name.upper()}": topic for name, topic in topics.items()},
    }

    def sh(*argv: str, cwd: Path, timeout: float = 300) -> str:
        out = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
        assert out.returncode == 0, f"{argv}: {out.stdout[-2000:]}\n{out.stderr[-4000:]}"
        return out.stdout

    # the installed package carries what it needs and nothing of the checkout is importable
    where = sh(str(venv / "bin" / "python"), "-c", "import processor; print(processor.__file__)", cwd=tmp_path)
    assert Path(where.strip()).is_relative_to(venv)

    # 2. a project; 3-6. the files of docs/your-events.md
    sh("processor", "init", "payments", "--event-type", EVENT_TYPE, cwd=tmp_path)
    project = tmp_path / "payments"
    files = doc_files()
    assert set(files) == {
        f"schemas/input/{EVENT_TYPE}.v1.avsc",
        f"features/{EVENT_TYPE}.py",
        "pipelines.yaml",
        "sample_data.py",
        "read_scored.py",
    }
    for relative, text in files.items():
        (project / relative).write_text(text)
    python = str(venv / "bin" / "python")
    sh(python, "sample_data.py", "--count", "4000", "--out", "data", cwd=project)

    # 7. train and promote
    trained = sh("processor", "train", "--event-type", EVENT_TYPE, "--events", "data/events.jsonl",
                 "--labels", "data/labels.jsonl", "--no-progress", cwd=project)  # fmt: skip
    version = re.search(r"promote (\S+) --event-type", trained)
    assert version is not None, trained
    assert (project / "models" / EVENT_TYPE / version[1] / "model.txt").is_file()
    sh("processor", "model", "promote", version[1], "--event-type", EVENT_TYPE, "--reason", "first", cwd=project)

    # 8. topics, then JSON and Avro single-object events (produce.py of the skeleton)
    sh("processor", "topics", "create", cwd=project)
    sh(python, "produce.py", "data/events.jsonl", "--topic", topics["raw"], "--bootstrap-servers", BOOTSTRAP,
       "--format", "json", "--limit", "400", cwd=project)  # fmt: skip
    sh(python, "produce.py", "data/events.jsonl", "--topic", topics["raw"], "--bootstrap-servers", BOOTSTRAP,
       "--format", "avro", "--skip", "400", "--limit", "400", cwd=project)  # fmt: skip
    events = [json.loads(line) for line in (project / "data" / "events.jsonl").read_text().splitlines()[:800]]
    json_ids = {e["event_id"] for e in events[:400]}
    avro_ids = {e["event_id"] for e in events[400:]}
    # what else a team's topic sees: a rule's block, input that fails a check, input that is not an event
    sanctioned = {**events[0], "event_id": f"kp-{run}", "country": "KP", "occurred_at": events[-1]["occurred_at"]}
    bad_currency = {**events[1], "event_id": f"xxx-{run}", "currency": "XXX", "occurred_at": events[-1]["occurred_at"]}
    producer = Producer({"bootstrap.servers": BOOTSTRAP})
    for value in (_avro(project, sanctioned), json.dumps(bad_currency).encode(), b"{not json"):
        producer.produce(topics["raw"], key=b"card-x", value=value)
    assert producer.flush(30) == 0

    # 9. run, audit, read the decisions
    sh("processor", "run", "--max-idle", "5", cwd=project, timeout=240)
    audit = sh("processor", "audit", cwd=project)
    assert "accounting identity: HOLDS" in audit, audit
    counts = re.search(
        r"inputs (\d+) = scored (\d+) \+ review (\d+) \+ quarantined (\d+) \+ duplicates dropped (\d+)", audit
    )
    assert counts is not None, audit
    inputs, scored_n, review_n, quarantined_n, dropped = map(int, counts.groups())
    assert inputs == 803 and quarantined_n == 2 and dropped == 0
    assert scored_n + review_n + quarantined_n == inputs

    scored = _read(topics["scored"], scored_n)
    review = _read(topics["review"], review_n)
    quarantine = _read(topics["quarantine"], quarantined_n)
    decided = {r["value"]["event_id"]: r for r in scored + review}
    assert json_ids <= set(decided) and avro_ids <= set(decided)  # both framings scored
    scores = [r["value"]["score"] for r in scored + review if r["value"]["decision_source"] == "model"]
    assert len(scores) > 700
    assert len({round(s, 4) for s in scores}) > 50 and max(scores) - min(scores) > 0.5  # scores vary
    assert {r["value"]["decision"] for r in scored} >= {"approve", "decline"}
    rule = decided[f"kp-{run}"]["value"]
    assert (rule["decision"], rule["decision_source"], rule["rule_ids"]) == ("decline", "rule", ["sanctioned-country"])
    assert all(r["headers"]["processor-schema"] == b"processor.outputs.ScoredEvent" for r in scored)
    assert all(r["headers"]["processor-schema-version"] == b"1" for r in scored)
    assert sorted((q["value"]["stage"], q["value"]["error_code"]) for q in quarantine) == [
        ("decode", "invalid_json"),
        ("semantic", "not_allowed_value"),
    ]
    assert all(q["headers"]["__streams.errors.topic"] == topics["raw"].encode() for q in quarantine)

    # the reader of docs/your-events.md, as printed there
    shown = sh(python, "read_scored.py", "--topic", topics["scored"], "--bootstrap-servers", BOOTSTRAP,
               "--max", "5", cwd=project)  # fmt: skip
    lines = shown.splitlines()
    assert len(lines) == 5 and all(line.startswith("processor.outputs.ScoredEvent/v1 ") for line in lines)


def _avro(project: Path, event: dict[str, Any]) -> bytes:
    """Avro single-object encoding, spelled out as docs/contracts.md gives the byte layout."""
    from fastavro.schema import fingerprint, to_parsing_canonical_form

    schema = json.loads((project / "schemas" / "input" / f"{EVENT_TYPE}.v1.avsc").read_text())
    buf = io.BytesIO()
    buf.write(b"\xc3\x01" + bytes.fromhex(fingerprint(to_parsing_canonical_form(schema), "CRC-64-AVRO")))
    record = {f["name"]: event.get(f["name"], f.get("default")) for f in schema["fields"]}
    fastavro.schemaless_writer(buf, fastavro.parse_schema(schema), record)
    return buf.getvalue()


def _read(topic: str, expected: int) -> list[dict[str, Any]]:
    consumer = Consumer(
        {
            "bootstrap.servers": BOOTSTRAP,
            "group.id": f"byo-read-{uuid.uuid4().hex[:8]}",
            "auto.offset.reset": "earliest",
            "isolation.level": "read_committed",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    out: list[dict[str, Any]] = []
    idle = 0
    try:
        while len(out) < expected and idle < 20:
            message = consumer.poll(1.0)
            if message is None:
                idle += 1
                continue
            if message.error():
                continue
            out.append({"value": json.loads(message.value()), "headers": dict(message.headers() or [])})
    finally:
        consumer.close()
    assert len(out) == expected, f"{topic}: {len(out)} of {expected}"
    return out
