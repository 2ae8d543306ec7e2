"""The three contenders of ``make bench``, each run in a process of its own.

- ``limit``: consume, produce the same bytes, commit offsets in one transaction per batch, and
  nothing else: the ceiling for any processor on this broker and machine.
- ``processor``: the real processor loop (``processor.app.Processor``), every stage on.
- ``naive``: the same stages written the way most first versions are: one ``poll()`` per
  message, the whole pipeline run on that one message (so one dedupe round trip and one state
  round trip to Redis per event, one model call per row), outputs produced one by one, and a
  transaction committed at the same interval as the others (every ``batch_size`` messages).

Each returns the events it handled, the seconds from its first input to its last commit, its
CPU seconds (user + system, all threads) and its peak RSS.
"""

from __future__ import annotations

import resource
import time
from typing import Any

from confluent_kafka import Consumer, Producer, TopicPartition

from processor.config import Settings, load_pipelines
from processor.kafka.clients import consumer_config, transactional_producer_config
from processor.kafka.records import to_raw
from processor.stages.reorder import PartitionBuffer

_TXN_TIMEOUT_S = 30


def usage() -> dict[str, float]:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return {"cpu_s": ru.ru_utime + ru.ru_stime, "peak_rss_mb": _peak_rss_kb() / 1024}


def _peak_rss_kb() -> float:
    """This process's own peak RSS. Not ru_maxrss: Linux carries that across fork and exec, so a
    child would report the bench parent's peak (which holds every generated event) as its own."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return float(line.split()[1])
    return float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def _result(events: int, first: float | None, last: float | None, before: dict[str, float]) -> dict[str, Any]:
    after = usage()
    return {
        "events": events,
        "seconds": (last or 0.0) - (first or 0.0),
        "cpu_s": after["cpu_s"] - before["cpu_s"],
        "peak_rss_mb": after["peak_rss_mb"],
    }


def _clients(settings: Settings, suffix: str) -> tuple[Consumer, Producer]:
    consumer = Consumer({**consumer_config(settings), "group.id": settings.kafka.group_id + suffix})
    producer = Producer(
        {**transactional_producer_config(settings), "transactional.id": settings.kafka.group_id + suffix}
    )
    producer.init_transactions(_TXN_TIMEOUT_S)
    consumer.subscribe([settings.topics.raw])
    return consumer, producer


def _commit(producer: Producer, consumer: Consumer, topic: str, positions: dict[int, int]) -> None:
    producer.send_offsets_to_transaction(
        [TopicPartition(topic, p, o) for p, o in positions.items()],
        consumer.consumer_group_metadata(),
        _TXN_TIMEOUT_S,
    )
    producer.commit_transaction(_TXN_TIMEOUT_S)


def run_limit(settings: Settings, count: int) -> dict[str, Any]:
    """Consume, produce the same bytes, commit offsets in one transaction per batch: nothing else."""
    consumer, producer = _clients(settings, "-limit")
    before = usage()
    seen, first, last = 0, None, None
    while seen < count:
        batch = consumer.consume(settings.processing.batch_size, settings.processing.batch_timeout_ms / 1000)
        batch = [m for m in batch if m.error() is None]
        if not batch:
            continue
        first = first or time.monotonic()
        producer.begin_transaction()
        positions: dict[int, int] = {}
        for m in batch:
            producer.produce(settings.topics.scored, m.value(), m.key())
            positions[m.partition()] = m.offset() + 1  # type: ignore[index,operator]
        _commit(producer, consumer, settings.topics.raw, positions)
        seen += len(batch)
        last = time.monotonic()
    consumer.close()
    return _result(seen, first, last, before)


def run_processor(settings: Settings, count: int) -> dict[str, Any]:
    from processor.app import Processor, freeze_startup_heap

    processor = Processor(settings, load_pipelines(settings.pipelines_file))
    freeze_startup_heap()  # as `processor run` does
    before = usage()
    summary = processor.run(max_idle_s=4.0)
    return _result(summary.inputs, summary.first_input, summary.last_output, before)


def run_naive(settings: Settings, count: int) -> dict[str, Any]:
    """The same stages, one message at a time (see the module docstring)."""
    from processor.pipeline import Pipeline
    from processor.serializers.schemas import SchemaStore
    from processor.state.redis_client import connect

    pipeline = Pipeline(
        settings, load_pipelines(settings.pipelines_file), SchemaStore(settings.schemas_dir), connect(settings.redis)
    )
    consumer, producer = _clients(settings, "-naive")
    buffers: dict[int, PartitionBuffer] = {}
    positions: dict[int, int] = {}
    before = usage()
    seen, in_txn, first, last = 0, 0, None, None

    def emit(raws: list[Any], flush: bool = False) -> None:
        nonlocal in_txn
        prepared = pipeline.process(raws, buffers, flush=flush)
        if in_txn == 0:
            producer.begin_transaction()
        for record in prepared.outputs:
            producer.produce(record.topic, record.value, record.key, headers=list(record.headers))
        for change in prepared.changes:
            buffers[change.partition].generation = change.new_generation
        in_txn += len(raws) or 1

    while seen < count:
        message = consumer.poll(settings.processing.batch_timeout_ms / 1000)
        if message is None or message.error() is not None:
            continue
        first = first or time.monotonic()
        raw = to_raw(message)
        buffers.setdefault(raw.partition, PartitionBuffer(raw.topic, raw.partition, generation=0))
        emit([raw])
        positions[raw.partition] = raw.offset + 1
        seen += 1
        if in_txn >= settings.processing.batch_size:
            _commit(producer, consumer, settings.topics.raw, positions)
            in_txn = 0
    emit([], flush=True)  # what the reorder buffers still hold
    _commit(producer, consumer, settings.topics.raw, positions)
    last = time.monotonic()
    consumer.close()
    pipeline.worker.close()
    return _result(seen, first, last, before)


CONTENDERS = {"limit": run_limit, "processor": run_processor, "naive": run_naive}
