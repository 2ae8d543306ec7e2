"""Model rollout on the real stack: promote, shadow and rollback while a stream runs; a corrupted
artifact refused while the old model keeps serving. Every event is decided exactly once, each
batch by exactly one version (outputs of a batch share ``processed_at``), and a change takes
effect within 5 seconds."""

from __future__ import annotations

import shutil
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import redis

from helpers.kafka import produce, wait_for
from processor.app import Processor
from processor.audit import read_topic
from processor.config import Settings, load_pipelines, load_settings
from processor.devtools.simulate import FaultMix, SimulatedMessage, simulate, write_jsonl
from processor.errors import ProcessorError
from processor.features import load_feature_module
from processor.kafka.admin import create_topics
from processor.serializers.outputs import decode_json_output
from processor.serving.artifact import MODEL_FILE, list_versions
from processor.serving.registry import ModelRegistry
from processor.training.training import Guards, train_model

TYPE = "user_signed_up"
SWITCH_WITHIN_MS = 5_000


@pytest.fixture(scope="module")
def candidate(tmp_path_factory: pytest.TempPathFactory, trained_models: Path) -> Path:
    """A second user_signed_up model (other data, other seed): a real candidate that disagrees sometimes."""
    root = tmp_path_factory.mktemp("candidate")
    settings = load_settings(models={"dir": str(root)})
    path = root / "history.jsonl"
    write_jsonl(path, simulate(2_000, seed=77, types=(TYPE,), faults=FaultMix.none(), span_s=7 * 86_400.0))
    result = train_model(
        event_type=TYPE,
        events_path=path,
        labels_path=path.with_name("history.labels.jsonl"),
        settings=settings,
        pipelines=load_pipelines(settings.pipelines_file),
        seed=3,
        guards=Guards(allow_shift=True),
    )
    return result.artifact.path


@pytest.fixture
def models(tmp_path: Path, trained_models: Path, candidate: Path) -> tuple[Path, str, str]:
    """A store with the session's models plus the candidate: (dir, incumbent version, candidate version)."""
    root = tmp_path / "store"
    for event_type in ("user_signed_up", "document_uploaded", "jira_ticket_created"):
        for ref in list_versions(trained_models, event_type):
            shutil.copytree(ref.path, root / event_type / ref.version)
    incumbent = list_versions(root, TYPE)[-1].version
    shutil.copytree(candidate, root / TYPE / candidate.name)
    assert candidate.name != incumbent
    return root, incumbent, candidate.name


class Running:
    """A processor in a thread and a producer streaming sign-ups into it at a steady pace."""

    def __init__(self, settings: Settings, messages: list[SimulatedMessage]) -> None:
        self.processor = Processor(settings, load_pipelines(settings.pipelines_file))
        self._settings = settings
        self._messages = messages
        # exits 3 s after the stream ends, flushing the reorder buffer: every input gets its answer
        run = threading.Thread(target=self.processor.run, kwargs={"max_idle_s": 3.0})
        self._threads = [run, threading.Thread(target=self._stream)]

    def _stream(self) -> None:
        for i in range(0, len(self._messages), 100):
            produce(self._settings, [(m.key, m.value) for m in self._messages[i : i + 100]])
            time.sleep(0.1)

    def __enter__(self) -> Running:
        for t in self._threads:
            t.start()
        return self

    def streaming(self) -> bool:
        return self._threads[1].is_alive()

    def __exit__(self, *_: Any) -> None:
        self._threads[1].join(120)
        self._threads[0].join(60)
        if self._threads[0].is_alive():
            self.processor.stop()
            self._threads[0].join(30)


def _decided(settings: Settings) -> list[dict[str, Any]]:
    return [
        decode_json_output(m.value() or b"")
        for topic in (settings.topics.scored, settings.topics.review)
        for m in read_topic(settings, topic, idle_s=0.5)
    ]


def _settings(topic_factory: Callable[..., Settings], models_dir: Path, shadow: bool = False) -> Settings:
    settings = topic_factory(models_dir=models_dir, processing={"batch_size": 100, "idle_timeout_ms": 300})
    if shadow:
        topic = f"{settings.topics.raw}.shadow"
        settings = settings.model_copy(update={"models": settings.models.model_copy(update={"shadow_topic": topic})})
        created = {r.name: r.created for r in create_topics(settings)}  # creates the shadow topic too
        assert created[topic]
    return settings


def _runs(outputs: list[dict[str, Any]]) -> list[str]:
    """The model versions in processing order, consecutive repeats collapsed."""
    ordered = sorted((o for o in outputs if o["model_version"]), key=lambda o: o["processed_at"])
    runs: list[str] = []
    for o in ordered:
        if not runs or runs[-1] != o["model_version"]:
            runs.append(o["model_version"])
    return runs


def _check_exactly_once_and_one_version_per_batch(
    outputs: list[dict[str, Any]], messages: list[SimulatedMessage]
) -> None:
    counts = Counter(o["event_id"] for o in outputs)
    assert set(counts) == {m.event_id for m in messages}  # none lost
    assert max(counts.values()) == 1  # none doubled
    by_batch: dict[int, set[str | None]] = defaultdict(set)
    for o in outputs:
        by_batch[o["processed_at"]].add(o["model_version"])
    mixed = {at: v for at, v in by_batch.items() if len(v - {None}) > 1}
    assert not mixed, f"batches scored by more than one version: {mixed}"


def test_promote_shadow_and_rollback_while_streaming(
    topic_factory: Callable[..., Settings], redis_client: redis.Redis, models: tuple[Path, str, str]
) -> None:
    models_dir, incumbent, candidate = models
    settings = _settings(topic_factory, models_dir, shadow=True)
    registry = ModelRegistry(redis_client, settings.redis.key_prefix, models_dir)
    module = load_feature_module(TYPE)
    registry.promote(TYPE, incumbent, module, by="pytest", reason="baseline")
    messages = simulate(5_000, seed=21, types=(TYPE,), faults=FaultMix.none(), span_s=3_600.0)
    marks: dict[str, int] = {}
    with Running(settings, messages) as running:
        assert wait_for(lambda: len(_decided(settings)) > 300, 60)
        marks["shadow"] = int(time.time() * 1000)
        registry.set_shadow(TYPE, candidate, module, by="pytest", reason="candidate from new data")
        time.sleep(3.0)
        marks["promote"] = int(time.time() * 1000)
        change = registry.promote(TYPE, candidate, module, by="pytest", reason="shadow agreed")
        assert (change.version, change.previous) == (candidate, incumbent)
        time.sleep(4.0)
        marks["rollback"] = int(time.time() * 1000)
        back = registry.rollback(TYPE, module, by="pytest", reason="integration test")
        assert (back.version, back.previous) == (incumbent, candidate)
        time.sleep(3.0)
        assert running.streaming(), "the stream ended before the last switch: slow it down"
        metrics = running.processor.metrics.registry
    outputs = _decided(settings)
    _check_exactly_once_and_one_version_per_batch(outputs, messages)
    assert _runs(outputs) == [incumbent, candidate, incumbent]

    first_candidate = min(o["processed_at"] for o in outputs if o["model_version"] == candidate)
    assert marks["promote"] <= first_candidate <= marks["promote"] + SWITCH_WITHIN_MS
    first_back = min(
        o["processed_at"] for o in outputs if o["model_version"] == incumbent and o["processed_at"] > first_candidate
    )
    assert marks["rollback"] <= first_back <= marks["rollback"] + SWITCH_WITHIN_MS

    # shadow: the candidate scored beside the incumbent, never acted on, until it was promoted
    shadow = [orjson.loads(m.value() or b"") for m in read_topic(settings, settings.models.shadow_topic or "", 0.5)]
    assert shadow and {(s["active_version"], s["shadow_version"]) for s in shadow} == {(incumbent, candidate)}
    assert all(marks["shadow"] <= s["scored_at"] <= marks["promote"] + SWITCH_WITHIN_MS for s in shadow)
    assert {s["event_id"] for s in shadow} <= {o["event_id"] for o in outputs}
    scored = metrics.get_sample_value("processor_shadow_scored_total", {"event_type": TYPE})
    agreements = metrics.get_sample_value("processor_shadow_agreements_total", {"event_type": TYPE})
    assert scored == len(shadow) and agreements == sum(s["agree"] for s in shadow)
    rate = metrics.get_sample_value("processor_shadow_agreement_rate", {"event_type": TYPE})
    assert rate is not None and 0.0 <= rate <= 1.0
    print(f"\nshadow: {len(shadow)} events compared, agreement {rate:.3f}")
    assert [e["action"] for e in registry.log(TYPE)] == ["rollback", "promote", "shadow", "promote"]


@pytest.fixture
def corrupted(models: tuple[Path, str, str]) -> Iterator[str]:
    """A copy of the candidate whose model text changed after its checksums were written."""
    models_dir, _, candidate = models
    version = "29990101T000000Z-c0ffee00"
    target = models_dir / TYPE / version
    shutil.copytree(models_dir / TYPE / candidate, target)
    meta = target / "metadata.json"
    meta.write_text(meta.read_text().replace(candidate, version))  # metadata now fails its checksum too
    text = (target / MODEL_FILE).read_text()
    (target / MODEL_FILE).write_text(text.replace("leaf_value=", "leaf_value=9", 1))
    yield version


def test_a_corrupted_artifact_is_refused_and_the_old_model_keeps_serving(
    topic_factory: Callable[..., Settings],
    redis_client: redis.Redis,
    models: tuple[Path, str, str],
    corrupted: str,
) -> None:
    models_dir, incumbent, candidate = models
    settings = _settings(topic_factory, models_dir)
    registry = ModelRegistry(redis_client, settings.redis.key_prefix, models_dir)
    module = load_feature_module(TYPE)
    registry.promote(TYPE, incumbent, module, by="pytest", reason="baseline")
    with pytest.raises(ProcessorError) as refused:  # the CLI path verifies before it touches Redis
        registry.promote(TYPE, corrupted, module, by="pytest", reason="should fail")
    assert refused.value.code == "checksum_mismatch"
    assert registry.state(TYPE).active == incumbent

    messages = simulate(4_000, seed=22, types=(TYPE,), faults=FaultMix.none(), span_s=3_600.0)
    with Running(settings, messages) as running:
        assert wait_for(lambda: len(_decided(settings)) > 300, 60)
        # someone bypasses the CLI (redis-cli SET), or the disk rots after promotion
        mark = int(time.time() * 1000)
        redis_client.set(registry.key(TYPE, "active"), corrupted)
        metrics = running.processor.metrics.registry
        assert wait_for(
            lambda: (
                metrics.get_sample_value(
                    "processor_model_refused_total", {"event_type": TYPE, "reason": "checksum_mismatch"}
                )
                == 1
            ),
            10,
        )
        time.sleep(2.0)
        fixed = int(time.time() * 1000)
        registry.promote(TYPE, candidate, module, by="pytest", reason="a good version")
        time.sleep(3.0)
        assert running.streaming()
        assert running.processor.pipeline.worker.versions[TYPE] == candidate
    outputs = _decided(settings)
    _check_exactly_once_and_one_version_per_batch(outputs, messages)
    assert corrupted not in {o["model_version"] for o in outputs}
    during = [o for o in outputs if mark + 1_500 <= o["processed_at"] < fixed and o["model_version"]]
    assert during and {o["model_version"] for o in during} == {incumbent}  # the old model kept serving
    assert _runs(outputs) == [incumbent, candidate]
