"""Redis loses its data (a restart without persistence): nothing is lost, and every duplicate the
rebuild lets through is counted by processor_at_least_once_duplicates_total."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import redis

from helpers.kafka import produce, wait_for
from processor.app import Processor
from processor.audit import audit
from processor.config import Settings, load_pipelines
from processor.devtools.simulate import FaultMix, simulate

# a database of its own: the loss is a FLUSHDB, as after a restart without AOF, and costs nothing
# however many keys other runs (a benchmark, the chaos suite) left in database 0; SCAN over millions
# of keys took 13 s on a developer's stack, long enough for the processor to idle out first
_OWN_DATABASE = 13


def _own_database(settings: Settings) -> Settings:
    url = urlunsplit(urlsplit(settings.redis.url)._replace(path=f"/{_OWN_DATABASE}"))
    return settings.model_copy(update={"redis": settings.redis.model_copy(update={"url": url})})


def test_redis_data_loss_rebuilds_at_least_once_and_counts_the_duplicates(
    topic_factory: Callable[..., Settings], trained_models: Path
) -> None:
    # long lateness, and an idle timeout longer than the test: the buffers hold plenty of events
    # when the data vanishes, however slowly this machine runs (only the final flush drains them)
    settings = _own_database(
        topic_factory(
            models_dir=trained_models,
            processing={"batch_size": 200, "allowed_lateness_ms": 20_000, "idle_timeout_ms": 600_000},
        )
    )
    redis_client = redis.Redis.from_url(settings.redis.url)
    redis_client.flushdb()
    # no duplicate inputs: then every duplicate output comes from the rebuild, and the audit can
    # compare the metric with the truth (dedupe marks lost with Redis cannot catch input copies
    # whose original came before the loss; the README says so)
    faults = dataclasses.replace(FaultMix.default(), duplicate=0.0)
    messages = simulate(6_000, seed=21, faults=faults, span_s=600.0)
    half = len(messages) // 2
    produce(settings, [(m.key, m.value) for m in messages[:half]])

    processor = Processor(settings, load_pipelines(settings.pipelines_file))
    runner = threading.Thread(target=processor.run, kwargs={"max_idle_s": 10.0})
    runner.start()
    # committed outputs, read from the processor itself: re-reading the topic takes seconds on a busy
    # machine, and the processor must not idle out before the second half is produced
    assert wait_for(lambda: sum(processor.summary.outcomes.values()) > 1_000, 60, interval_s=0.05)
    assert redis_client.dbsize() > 0
    redis_client.flushdb()  # everything this processor had in Redis disappears
    redis_client.close()
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
