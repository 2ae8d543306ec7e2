"""partitions: what the loop asks of the partitions it holds, and the rebuild's duplicate count.

Loading, claiming, reconciling and rewinding need Redis and a broker: tests/integration
(test_transactions, test_redis_data_loss, test_scale_out) run them for real.
"""

from __future__ import annotations

import redis
from confluent_kafka import TopicPartition
from prometheus_client import CollectorRegistry

from helpers.records import T0, buffered_event
from processor.backoff import Backoff
from processor.batch_stats import BatchStats
from processor.monitoring.http import Health
from processor.monitoring.metrics import Metrics
from processor.partitions import Partitions, RebuildWindow
from processor.stages.reorder import PartitionBuffer
from processor.state.keys import Keys
from processor.state.reorder_store import BufferChange, ReorderStore

TOPIC = "events.raw"


def _partitions() -> Partitions:
    # nothing here reaches Redis: the client is never connected
    store = ReorderStore(redis.Redis(host="127.0.0.1", port=1), Keys("t:"))
    return Partitions(TOPIC, "group-host", store, Metrics.create(CollectorRegistry()), Backoff(Health(), lambda: True))


def test_the_batch_moves_each_partition_past_what_it_consumed() -> None:
    parts = _partitions()
    parts.buffers = {0: PartitionBuffer(TOPIC, 0, 0), 3: PartitionBuffer(TOPIC, 3, 0)}
    parts.advance([buffered_event(o, T0, partition=p).raw for p, o in ((0, 10), (3, 4), (0, 11))])
    assert parts.positions == {0: 12, 3: 5}
    assert parts.assigned(3) and not parts.assigned(1)


def test_holding_is_true_while_any_buffer_holds_an_event() -> None:
    parts = _partitions()
    parts.buffers = {0: PartitionBuffer(TOPIC, 0, 0), 1: PartitionBuffer(TOPIC, 1, 0)}
    assert not parts.holding()
    parts.buffers[1].admit(buffered_event(5, T0, partition=1), 0.0)
    assert parts.holding()


def test_a_committed_change_moves_its_buffer_to_the_new_generation() -> None:
    parts = _partitions()
    parts.buffers = {0: PartitionBuffer(TOPIC, 0, 3), 1: PartitionBuffer(TOPIC, 1, 8)}
    change = BufferChange(TOPIC, 1, expected_generation=8, new_generation=9, clocks=b"{}", added={}, removed=[])
    parts.committed([change])
    assert (parts.buffers[0].generation, parts.buffers[1].generation) == (3, 9)


def test_revoked_partitions_are_forgotten() -> None:
    parts = _partitions()
    parts.buffers = {0: PartitionBuffer(TOPIC, 0, 0), 1: PartitionBuffer(TOPIC, 1, 0)}
    parts.positions = {0: 5, 1: 7}
    parts.on_revoke(None, [TopicPartition(TOPIC, 1)])  # type: ignore[arg-type]
    assert list(parts.buffers) == [0] and parts.positions == {0: 5}
    assert parts.lag(None) == {}  # no consumer (closed): no lag to tell


def test_a_rebuild_counts_as_duplicates_only_the_re_emissions_beyond_what_the_lost_buffer_held() -> None:
    """Redis lost partition 2's state when the commit was at 100 with 3 events buffered, the
    lowest at 90: the rebuild re-reads [90, 100). Ten outputs below 100: 3 were owed, 7 are twice."""
    window = RebuildWindow(end=100, held=3)
    counted = [window.answered(offset) for offset in range(90, 100)]
    assert counted == [0, 0, 0, 1, 1, 1, 1, 1, 1, 1]
    assert window.answered(100) == 0 and window.answered(250) == 0  # past the rebuild: new input
    assert window.reemitted == 10


def test_duplicates_are_counted_per_partition_over_a_batch() -> None:
    parts = _partitions()
    assert parts.rebuild_duplicates(BatchStats(answered=[(0, 1)])) == 0  # no rebuild: nothing to count
    parts._rebuilds[2] = RebuildWindow(end=50, held=1)
    stats = BatchStats(answered=[(2, 40), (0, 41), (2, 41), (2, 42), (2, 60)])
    # partition 2: 40 was owed, 41 and 42 are duplicates; partition 0 was not rebuilt; 60 is new
    assert parts.rebuild_duplicates(stats) == 2
