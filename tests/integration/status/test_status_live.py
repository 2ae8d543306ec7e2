"""``processor status`` against a real ``processor run`` (metrics on a free loopback port), the real
broker and Redis: the screen shows what the processor did, the kill switch Redis holds, and names
the source that is not there (no review app runs). The same run's JSON logs carry positions of
quarantined inputs, never their bytes, and never a secret."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import orjson
import redis

from helpers.kafka import produce, settings_env, wait_for
from helpers.net import free_port
from helpers.records import envelope
from processor.config import MetricsSettings, Settings
from processor.decide.killswitch import set_switch
from processor.devtools.simulate import run_simulate
from processor.state.keys import Keys
from processor.status.scrape import SourceError, scrape

MARKER = "PAYLOAD-MARKER-5b7e21"
SECRET = "session-secret-never-logged-c44f"


def _status(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "processor", "status", *args],
        env=settings_env(settings),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_status_of_a_running_processor(
    topic_factory: Callable[..., Settings],
    trained_models: Path,
    processor_factory: Callable[..., subprocess.Popen[bytes]],
    redis_client: redis.Redis,
    tmp_path: Path,
) -> None:
    port = free_port()
    base = topic_factory(models_dir=trained_models)
    settings = base.model_copy(
        update={
            "metrics": MetricsSettings(enabled=True, host="127.0.0.1", port=port),
            "review": base.review.model_copy(update={"session_secret": SECRET}),
        }
    )
    url = f"http://127.0.0.1:{port}/metrics"
    keys = Keys(settings.redis.key_prefix)
    set_switch(redis_client, keys, "document_uploaded", "fallback", "status test INC-7", "tester")

    log = tmp_path / "processor.log"
    proc = processor_factory(settings, log=log)

    def answering() -> bool:
        try:
            scrape(url, 1.0)
            return True
        except SourceError:
            return False

    assert wait_for(answering, 60), log.read_text()[-3000:]

    summary = run_simulate(
        settings,
        count=600,
        seed=3,
        faults_spec="none",
        out=None,
        topic=None,
        types=None,
        span_s=3_600.0,
        drift=None,
    )
    assert summary.delivered == 600
    broken = b'{"event_id": "bad-1", "event_type": "user_signed_up", "email": "' + MARKER.encode() + b'", '
    missing = envelope("user_signed_up", "bad-2", "user-9", schema_version=2, source="web") | {
        "email": MARKER,
        "age_years": "not-a-number",
    }
    positions = produce(settings, [(b"user-9", broken), (b"user-9", orjson.dumps(missing))])
    total = 602

    def processed() -> bool:
        try:
            return (scrape(url, 1.0).total("processor_input_messages_total") or 0) >= total
        except SourceError:
            return False

    assert wait_for(processed, 120, 0.5), log.read_text()[-3000:]
    # lag is exported per assigned partition once the watermarks are known: wait for all of them at 0
    assert wait_for(lambda: scrape(url, 1.0).total("processor_consumer_lag_messages") == 0, 60, 0.5)

    dead_review = f"http://127.0.0.1:{free_port()}/metrics"
    result = _status(settings, "--processor-url", url, "--review-url", dead_review, "--interval", "1", "--json")
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == 1  # the review app is not running: said, and the exit code says it too
    data = json.loads(result.stdout)
    assert data["processors_up"] == 1 and data["healthy"] == [True]
    assert data["dependencies"] == {"kafka": True, "redis": True}
    assert data["throughput"]["inputs_total"] == total
    assert data["throughput"]["inputs_per_s"] is not None and data["throughput"]["inputs_per_s"] >= 0
    assert sum(data["throughput"]["outcomes_total"].values()) == total
    assert data["lag_total"] == 0
    reasons = {(q["stage"], q["error_code"]) for q in data["quarantine"]}
    assert ("decode", "invalid_json") in reasons, data["quarantine"]
    switches = {s["scope"]: s for s in data["killswitch"]}
    assert switches["document_uploaded"]["mode"] == "fallback"
    assert switches["document_uploaded"]["reason"] == "status test INC-7"
    assert switches["global"]["mode"] == "off"
    trained = {
        d.name: sorted(v.name for v in d.iterdir() if v.is_dir()) for d in trained_models.iterdir() if d.is_dir()
    }
    active = {m["event_type"]: m["active"] for m in data["models"]}
    for event_type, versions in trained.items():
        assert active.get(event_type) == [versions[-1]], (active, trained)
    assert all(m["shadow"] == [] for m in data["models"])
    assert [p for p in data["problems"] if p.startswith("review:")] == [
        f"review: {dead_review}: connection refused (is the service running, on that port?)"
    ]
    assert not [p for p in data["problems"] if not p.startswith("review:")]

    # the human screen, from the settings alone (status.processor_urls), review left out
    env_settings = settings.model_copy(
        update={"status": settings.status.model_copy(update={"processor_urls": [url], "review_url": ""})}
    )
    screen = _status(env_settings, "--interval", "0")
    assert screen.returncode == 0, screen.stdout + screen.stderr
    assert "processors   1 answering, 1 healthy" in screen.stdout
    assert "document_uploaded        fallback" in screen.stdout
    assert "decode/invalid_json" in screen.stdout

    # the run's logs: JSON lines; the quarantined inputs by position, their bytes and the secret nowhere
    proc.terminate()
    proc.wait(30)
    text = log.read_text()
    assert MARKER not in text and SECRET not in text
    entries = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    assert entries and len(entries) == len([line for line in text.splitlines() if line.strip()]), text[-2000:]
    start = entries[0]
    assert (
        start["message"].startswith("starting processor")
        and start["settings"]["review"]["session_secret"] == "**********"
    )
    quarantined = {(e["partition"], e["offset"]): e for e in entries if e["message"].startswith("quarantined ")}
    first, second = (quarantined[p] for p in positions)
    assert (first["stage"], first["error_code"], first["topic"]) == ("decode", "invalid_json", settings.topics.raw)
    assert second["event_id"] == "bad-2" and second["event_type"] == "user_signed_up"
    assert second["stage"] in ("schema", "semantic")
