"""Retraining from the stream: history read from a Kafka topic, labels from events.feedback (human
review decisions, joined by event_id, the latest decision per event winning), through the real
``processor train`` and ``processor model`` commands."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import orjson
import redis

from helpers.kafka import produce, settings_env
from processor.config import Settings
from processor.devtools.simulate import FaultMix, simulate
from processor.serving.artifact import list_versions, verify_artifact
from processor.serving.registry import ModelRegistry

TYPE = "user_signed_up"


def _cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "processor", *args],
        env=settings_env(settings),
        capture_output=True,
        text=True,
        timeout=300,
    )


def _feedback(event_id: str, label: str, decided_at: int, event_type: str = TYPE) -> tuple[bytes, bytes]:
    record = {
        "event_id": event_id,
        "event_type": event_type,
        "label": label,
        "reviewer": "ana@example.com",
        "decided_at": decided_at,
        "note": None,
    }
    return event_id.encode(), orjson.dumps(record)


def test_retrains_from_a_topic_with_feedback_labels_and_promotes(
    topic_factory: Callable[..., Settings], redis_client: redis.Redis, tmp_path: Path
) -> None:
    settings = topic_factory(models_dir=tmp_path / "models")
    # two weeks of history ending now, so the stale and shift guards pass without overrides
    messages = simulate(3_000, seed=31, types=(TYPE,), faults=FaultMix.none(), span_s=14 * 86_400.0)
    produce(settings, [(m.key, m.value) for m in messages])

    labelled = [m for m in messages if m.label is not None]
    reviewed = [m for i, m in enumerate(labelled) if i % 4]  # humans reviewed three quarters of them
    decided = 1_780_000_000_000
    records = [_feedback(m.event_id, "legit" if m.label == "fraud" else "fraud", decided) for m in reviewed[:100]]
    # ...and corrected their first hundred decisions later: the latest decided_at wins, whatever the order
    records += [_feedback(m.event_id, m.label or "", decided + 60_000) for m in reviewed]
    records += [_feedback(m.event_id, "legit", decided - 1) for m in reviewed[100:110]]  # older: ignored
    records += [(b"x", b"not json"), (b"y", b'{"event_id": "only"}')]
    records += [_feedback("doc-1", "reject", decided, event_type="document_uploaded")]
    produce(
        settings.model_copy(update={"topics": settings.topics.model_copy(update={"raw": settings.topics.feedback})}),
        records,
    )

    result = _cli(
        settings, "train", "--event-type", TYPE, "--events-topic", settings.topics.raw, "--feedback", "--no-progress"
    )
    assert result.returncode == 0, result.stderr
    assert "logistic_regression" in result.stdout and "class_prior" in result.stdout
    (ref,) = list_versions(settings.models.dir, TYPE)
    meta = verify_artifact(ref)
    data = meta["data"]
    assert data["source"] == f"kafka:{settings.topics.raw}"
    assert data["rows"] == len(messages) and data["labelled"] == len(reviewed)
    assert data["feedback_labels"] == len(reviewed)
    assert data["positives"] == sum(m.label == "fraud" for m in reviewed)  # the corrections won
    assert data["labels_invalid"] == 2
    assert "feedback topic" in data["labels_source"]
    assert meta["split"]["method"] == "time"
    assert {g["status"] for g in meta["guards"].values()} == {"passed"}

    # the new model goes live through the registry commands
    promote = _cli(settings, "model", "promote", ref.version, "--event-type", TYPE, "--reason", "retrained on feedback")
    assert promote.returncode == 0, promote.stderr
    registry = ModelRegistry(redis_client, settings.redis.key_prefix, settings.models.dir)
    assert registry.state(TYPE).active == ref.version
    listing = _cli(settings, "model", "list", "--event-type", TYPE, "--json")
    assert listing.returncode == 0, listing.stderr
    assert [(r["version"], r["role"]) for r in json.loads(listing.stdout)] == [(ref.version, "active")]
    show = _cli(settings, "model", "show", ref.version, "--event-type", TYPE)
    assert "checksums OK" in show.stdout and "logistic_regression" in show.stdout
    again = _cli(settings, "model", "rollback", "--event-type", TYPE, "--reason", "nothing before it")
    assert again.returncode == 1 and "nothing_to_roll_back" in again.stderr


def test_training_refuses_an_empty_feedback_topic(topic_factory: Callable[..., Settings], tmp_path: Path) -> None:
    settings = topic_factory(models_dir=tmp_path / "models")
    produce(settings, [(m.key, m.value) for m in simulate(300, seed=2, types=(TYPE,), faults=FaultMix.none())])
    result = _cli(settings, "train", "--event-type", TYPE, "--events-topic", settings.topics.raw, "--feedback")
    assert result.returncode == 2
    assert "no_feedback_labels" in result.stderr
    assert not (tmp_path / "models").exists()
