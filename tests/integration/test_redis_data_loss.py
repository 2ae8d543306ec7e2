"""Redis loses its data (a restart without persistence): nothing is lost, and every duplicate the
rebuild lets through is counted by processor_at_least_once_duplicates_total."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from pathlib import Path

import redis

from helpers.kafka import produce, wait_for
from processor.app import Processor
from processor.audit import audit, read_topic
from processor.config import Settings, load_pipelines
from processor.simulate import FaultMix, simulate


def _forget(client: redis.Redis, prefix: str) -> int:
    """Everything this processor had in Redis disappears, as after a restart without AOF."""
    keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
    keys += list(client.scan_iter(match=f"{{{prefix}*", count=1000))
    return client.delete(*keys) if keys else 0


def test_redis_data_loss_rebuilds_at_least_once_and_counts_the_duplicates(
    topic_factory: Callable[..., Settings], redis_client: redis.Redis, trained_models: Path
) -> None:
    # long lateness, and an idle timeout longer than the test: the buffers hold plenty of events
    # when the data vanishes, however slowly this machine runs (only the final flush drains them)
    settings = topic_factory(
        models_dir=trained_models,
        processing={"batch_size": 200, "allowed_lateness_ms": 20_000, "idle_timeout_ms": 600_000},
    )
    # no duplicate inputs: then every duplicate output comes from the rebuild, and the audit can
    # compare the metric with the truth (dedupe marks lost with Redis cannot catch input copies
    # whose original came before the loss; the README says so)
    faults = dataclasses.replace(FaultMix.default(), duplicate=0.0)
    messages = simulate(6_000, seed=21, faults=faults, span_s=600.0)
    half = len(messages) // 2
    produce(settings, [(m.key, m.value) for m in messages[:half]])

    processor = Processor(settings, load_pipelines(settings.pipelines_file))
    runner = threading.Thread(target=processor.run, kwargs={"max_idle_s": 8.0})
    runner.start()
    assert wait_for(lambda: len(read_topic(settings, settings.topics.scored, idle_s=0.3)) > 1_000, 60)
    assert _forget(redis_client, settings.redis.key_prefix) > 0
    produce(settings, [(m.key, m.value) for m in messages[half:]])
    runner.join(180)
    assert not runner.is_alive()

    report = audit(settings)
    duplicates = len(report.answered_twice)
    assert report.lost == [], report.problems()
    assert processor.metrics.state_rebuilds._value.get() >= 1
    assert duplicates > 0  # a rebuild happened over already-emitted input
    assert processor.metrics.at_least_once_duplicates._value.get() == duplicates
    assert processor.summary.at_least_once_duplicates == duplicates
