"""outages: which failures of a batch are a dependency's (waited out) and which are not.

The waits themselves (Redis or the registry away, then the rewind) run for real in
tests/integration (registry/test_end_to_end.py's registry restart, the chaos suite's Redis pause).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import redis
from prometheus_client import CollectorRegistry
from redis.backoff import NoBackoff
from redis.retry import Retry

from processor.backoff import Backoff
from processor.config import PipelinesConfig, Settings
from processor.monitoring.http import Health
from processor.monitoring.metrics import Metrics
from processor.outages import Outages
from processor.partitions import Partitions
from processor.pipeline import Pipeline
from processor.serializers.schemas import SchemaStore
from processor.state.reorder_store import OwnershipLostError


@pytest.fixture
def outages(settings: Settings, pipelines: PipelinesConfig, schema_store: SchemaStore, tmp_path: Path) -> Outages:
    settings = settings.model_copy(update={"models": settings.models.model_copy(update={"dir": tmp_path})})
    # nothing listens there: the model registry's first read fails at once (no retries), as it may
    client = redis.Redis(host="127.0.0.1", port=1, retry=Retry(NoBackoff(), 0))
    pipeline = Pipeline(settings, pipelines, schema_store, client)
    metrics = Metrics.create(CollectorRegistry())
    backoff = Backoff(Health(), lambda: True)
    partitions = Partitions("events.raw", "owner", pipeline.store, metrics, backoff)
    return Outages(backoff, partitions, metrics, pipeline)


def test_a_bug_in_a_stage_is_not_an_outage(outages: Outages) -> None:
    assert outages.handle(TypeError("unsupported operand"), None) is False  # type: ignore[arg-type]
    assert outages.handle(KeyError("field"), None) is False  # type: ignore[arg-type]


def test_a_partition_claimed_by_another_process_ends_this_one(outages: Outages) -> None:
    refusal = redis.ResponseError("Command # 3 (EVALSHA ...) of pipeline caused error: OWNER_CONFLICT p-7 is b:1")
    with pytest.raises(OwnershipLostError):
        outages.handle(refusal, None)  # type: ignore[arg-type]


def test_redis_away_is_an_outage_and_a_stopping_process_gives_up_waiting(outages: Outages) -> None:
    # the process is stopping (the backoff's stop flag is up): nothing to resume, no wait
    assert outages.handle(redis.ConnectionError("refused"), None) is True  # type: ignore[arg-type]
    assert outages.resumed_at == 0.0
    assert outages._metrics.healthy._value.get() == 0
