"""One batch through the pipeline on a real Redis, without Kafka: stage wiring and failure isolation."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import orjson
import redis

from processor.config import Settings, load_pipelines
from processor.devtools.simulate import FaultMix, simulate
from processor.messages import RawMessage
from processor.pipeline import Pipeline
from processor.serializers.outputs import decode_json_output
from processor.serializers.schemas import SchemaStore
from processor.stages.reorder import PartitionBuffer


def _raws(settings: Settings, count: int, seed: int) -> list[RawMessage]:
    messages = simulate(count, seed=seed, faults=FaultMix.none(), types=("document_uploaded",), span_s=60.0)
    return [RawMessage(settings.topics.raw, 0, i, m.key, m.value, (), None) for i, m in enumerate(messages)]


def test_a_feature_function_that_raises_quarantines_that_event_only(
    settings_factory: Callable[..., Settings], redis_client: redis.Redis, trained_models: Path
) -> None:
    settings = settings_factory(models_dir=trained_models)
    pipeline = Pipeline(
        settings, load_pipelines(settings.pipelines_file), SchemaStore(settings.schemas_dir), redis_client
    )
    raws = _raws(settings, 50, seed=1)
    poisoned = orjson.loads(raws[7].value or b"")["event_id"]
    real = pipeline.modules["document_uploaded"]

    def compute(record: dict[str, Any], history: dict[str, int]) -> list[float]:
        if record["event_id"] == poisoned:
            raise ZeroDivisionError("boom")
        return real.compute(record, history)

    pipeline.modules["document_uploaded"] = SimpleNamespace(  # type: ignore[assignment]
        HISTORY=real.HISTORY, FEATURE_NAMES=real.FEATURE_NAMES, compute=compute
    )
    buffers = {0: PartitionBuffer(settings.topics.raw, 0, generation=0)}
    batch = pipeline.process(raws, buffers, flush=True)

    quarantined = [decode_json_output(o.value) for o in batch.outputs if o.topic == settings.topics.quarantine]
    assert [(q["stage"], q["error_code"], q["event_id"]) for q in quarantined] == [
        ("features", "feature_error", poisoned)
    ]
    assert quarantined[0]["value"] == raws[7].value  # the original bytes, even after the buffer
    decided = [o for o in batch.outputs if o.topic in (settings.topics.scored, settings.topics.review)]
    assert len(decided) == 49
    assert all(orjson.loads(o.value)["decision_source"] == "model" for o in decided)


def test_history_features_count_strictly_earlier_events_and_replays_add_nothing(
    settings_factory: Callable[..., Settings], redis_client: redis.Redis, trained_models: Path
) -> None:
    settings = settings_factory(models_dir=trained_models)
    pipelines = load_pipelines(settings.pipelines_file)
    schemas = SchemaStore(settings.schemas_dir)
    now = int(time.time() * 1000)
    uploader = f"up-{uuid.uuid4().hex[:6]}"
    raws = []
    for i in range(4):
        record = {
            "event_id": f"{uploader}-{i}",
            "event_type": "document_uploaded",
            "occurred_at": now - 60_000 + i * 1_000,
            "entity_id": uploader,
            "sequence": i,
            "document_id": f"d{i}",
            "uploader_id": uploader,
            "file_name": "a.pdf",
            "mime_type": "application/pdf",
            "detected_mime_type": "application/pdf",
            "size_bytes": 2048,
            "page_count": 1,
            "sha256": f"{i:064x}",
            "upload_status": "ok",
        }
        raws.append(RawMessage(settings.topics.raw, 0, i, uploader.encode(), orjson.dumps(record)))

    # a fresh run sees 0, 1, 2, 3 earlier uploads; the replay (same event ids) sees exactly the same
    first = Pipeline(settings, pipelines, schemas, redis_client).process(
        raws, {0: PartitionBuffer(settings.topics.raw, 0, generation=0)}, flush=True, keep_samples=4
    )
    assert [s.features["uploads_same_uploader_1h"] for s in first.stats.samples] == [0.0, 1.0, 2.0, 3.0]
    # as after a crash: the same input positions again (Redis holds generation 1 of the partition)
    replay = Pipeline(settings, pipelines, schemas, redis_client).process(
        raws, {0: PartitionBuffer(settings.topics.raw, 0, generation=1)}, flush=True, keep_samples=4
    )
    assert [s.features["uploads_same_uploader_1h"] for s in replay.stats.samples] == [0.0, 1.0, 2.0, 3.0]
