"""Review replicas share one consumer group: one the group gives no partition must still be ready."""

from __future__ import annotations

import threading
from collections.abc import Callable

from confluent_kafka.admin import AdminClient

from helpers.kafka import wait_for
from processor.config import PipelinesConfig, Settings
from processor.review.ingest import Ingest
from processor.review.items import Choices
from processor.review.metrics import ReviewMetrics
from processor.review.store import ReviewStore
from processor.state.redis_client import connect


def test_a_replica_with_no_partition_catches_up(
    review_settings_factory: Callable[..., Settings], pipelines: PipelinesConfig
) -> None:
    settings = review_settings_factory()  # events.review and events.feedback: 3 partitions each
    store = ReviewStore(connect(settings.redis), settings.redis.key_prefix)
    choices = Choices.build(pipelines, settings.review)
    # seven replicas for six partitions: whatever the assignor, at least one gets nothing
    replicas = [Ingest(settings, store, ReviewMetrics.create(), choices) for _ in range(7)]
    stop = threading.Event()
    # each replica runs its serve loop, as `processor review serve` does (a member that stops
    # polling would hold up the group's next rebalance)
    threads = [threading.Thread(target=replica.run, args=(stop,)) for replica in replicas]
    try:
        for thread in threads:
            thread.start()
        assert wait_for(lambda: all(r.caught_up.is_set() for r in replicas), 90), [
            r.caught_up.is_set() for r in replicas
        ]
        admin = AdminClient(settings.kafka.client_config())
        group = settings.review.group_id
        description = admin.describe_consumer_groups([group])[group].result(30)
        assert len(description.members) == len(replicas)
        assert any(not member.assignment.topic_partitions for member in description.members)
    finally:
        stop.set()
        for thread in threads:
            thread.join(60)
        for replica in replicas:
            replica.close()
