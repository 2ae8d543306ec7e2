"""confluent-kafka ``Message`` to the pipeline's ``RawMessage``, in one place."""

from __future__ import annotations

from confluent_kafka import Message

from processor.messages import Headers, RawMessage


def headers_of(message: Message) -> Headers:
    raw = message.headers() or ()
    items = raw.items() if isinstance(raw, dict) else raw
    return tuple((name, value.encode() if isinstance(value, str) else value) for name, value in items)


def to_raw(message: Message) -> RawMessage:
    """A consumed (non-error) message as the pipeline sees it; the bytes are not touched."""
    topic, partition, offset = message.topic(), message.partition(), message.offset()
    if topic is None or partition is None or offset is None:
        raise ValueError("message has no topic, partition or offset (an error event?)")
    _, ts = message.timestamp()
    return RawMessage(
        topic=topic,
        partition=partition,
        offset=offset,
        key=message.key(),
        value=message.value(),
        headers=headers_of(message),
        timestamp_ms=ts if ts > 0 else None,
    )
