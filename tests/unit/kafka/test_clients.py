"""The Kafka clients' memory bounds: librdkafka accepts them, and they follow the batch size."""

from __future__ import annotations

from confluent_kafka import Consumer, Producer

from processor.config import load_settings
from processor.kafka.clients import consumer_config, transactional_producer_config


def test_the_consumer_prefetches_a_few_batches_not_librdkafkas_default() -> None:
    small = consumer_config(load_settings(processing={"batch_size": 100}))
    large = consumer_config(load_settings(processing={"batch_size": 5_000}))
    assert small["queued.min.messages"] == 1_000  # never fewer than this per partition
    assert large["queued.min.messages"] == 20_000
    assert small["queued.max.messages.kbytes"] < 65_536  # librdkafka's default, 64 MB
    assert small["fetch.max.bytes"] < 52_428_800  # librdkafka's default, 50 MB
    # past those bounds librdkafka pauses a partition's fetching this long: its 1 s default starves the loop
    assert small["fetch.queue.backoff.ms"] <= 50


def test_a_fetch_can_still_carry_the_largest_input_the_processor_reads() -> None:
    conf = consumer_config(load_settings(processing={"max_message_bytes": 20_000_000}))
    assert conf["fetch.max.bytes"] >= 20_000_000


def test_librdkafka_accepts_the_configurations() -> None:
    settings = load_settings()
    consumer = Consumer(consumer_config(settings))  # raises KafkaException on a bad property
    consumer.close()
    producer = Producer(transactional_producer_config(settings))
    assert (
        transactional_producer_config(settings)["queue.buffering.max.kbytes"] * 1024
        > (transactional_producer_config(settings)["message.max.bytes"])
    )
    producer.flush(0)
