"""route: turn decided events and rejected inputs into output records for the batch's transaction.

Every output carries lineage headers naming the input record it answers (``source-topic``,
``source-partition``, ``source-offset``), so the accounting identity can be checked from the
outputs alone, and its schema's name and version (``processor-schema``, ``processor-schema-version``).
Quarantine records add the dead-letter headers of Kafka Streams (KIP-1034).
"""

from __future__ import annotations

from typing import Any

import orjson

from processor import __version__
from processor.config import TopicsSettings
from processor.messages import Headers, OutputRecord, RawMessage, Reason, Rejected, Scored
from processor.serializers.outputs import OutputEncoder

#: Review records embed the event; past this size the embedded copy is cut (the topic must accept it).
MAX_EMBEDDED_EVENT_BYTES = 512 * 1024
#: Who sent an event through the gateway (its client and route): carried onto the event's output, so
#: a reviewer sees which client an item came from.
CARRIED_HEADERS = ("ingest-client", "ingest-route")


class Router:
    def __init__(self, topics: TopicsSettings, encoder: OutputEncoder) -> None:
        self._topics = topics
        self._encoder = encoder
        # header pairs that are the same for many outputs, built once: the input topic and
        # partition, and each schema's name and version with the content type
        self._sources: dict[tuple[str, int], Headers] = {}
        self._schema_headers: dict[str, Headers] = {}

    def _lineage(self, raw: RawMessage) -> Headers:
        source = self._sources.get((raw.topic, raw.partition))
        if source is None:
            source = self._sources[(raw.topic, raw.partition)] = (
                ("source-topic", raw.topic.encode()),
                ("source-partition", str(raw.partition).encode()),
            )
        return (*source, ("source-offset", str(raw.offset).encode()))

    def _schema(self, schema: str) -> Headers:
        """``content-type`` and the schema headers of one output schema."""
        headers = self._schema_headers.get(schema)
        if headers is None:
            headers = self._schema_headers[schema] = (
                ("content-type", self._encoder.content_type),
                *self._encoder.schema_headers(schema),
            )
        return headers

    def scored(self, item: Scored, processed_at: int) -> OutputRecord:
        event, d = item.event, item.decision
        record: dict[str, Any] = {
            "event_id": event.event_id,
            "event_type": event.event_type,
            "entity_id": event.entity_id,
            "occurred_at": event.occurred_at,
            "processed_at": processed_at,
            "decision": d.decision,
            "category": d.category,
            "score": d.score,
            "confidence": d.confidence,
            "decision_source": d.decision_source,
            "rule_ids": list(d.rule_ids),
            "model_version": d.model_version,
            "late": event.late,
            "reason": d.reason,
        }
        if d.route == "review":
            embedded = orjson.dumps(event.record)
            if len(embedded) > MAX_EMBEDDED_EVENT_BYTES:
                embedded = orjson.dumps({"truncated": True, "bytes": len(embedded), "event_id": event.event_id})
            record["review_reason"] = d.review_reason or "unspecified"
            record["features"] = item.features
            record["event"] = embedded.decode()
            topic, schema = self._topics.review, "review"
        else:
            topic, schema = self._topics.scored, "scored"
        return OutputRecord(
            topic=topic,
            key=event.entity_id.encode(),
            value=self._encoder.encode(schema, record, topic),
            headers=(
                *self._lineage(event.raw),
                *self._schema(schema),
                *((k, v) for k, v in event.raw.headers if k in CARRIED_HEADERS),
            ),
        )

    def quarantined(self, item: Rejected, quarantined_at: int) -> OutputRecord:
        raw, reason = item.raw, item.reason
        record = {
            "stage": reason.stage,
            "error_code": reason.code,
            "error_message": reason.message[:2000],
            "field": reason.field,
            "event_type": reason.event_type,
            "event_id": reason.event_id,
            "key": raw.key,
            "value": raw.value,
            "headers": [{"key": k, "value": v} for k, v in raw.headers],
            "source_topic": raw.topic,
            "source_partition": raw.partition,
            "source_offset": raw.offset,
            "source_timestamp": raw.timestamp_ms,
            "quarantined_at": quarantined_at,
            "processor_version": __version__,
        }
        return OutputRecord(
            topic=self._topics.quarantine,
            key=raw.key,
            value=self._encoder.encode("quarantine", record, self._topics.quarantine),
            headers=(*self._lineage(raw), *self._schema("quarantine"), *dead_letter_headers(raw, reason)),
        )


#: The dead-letter headers Kafka Streams 4.x writes (KIP-1034, ``ExceptionHandlerUtils``), so
#: tooling built for Streams dead-letter queues reads the quarantine topic too.
DLQ_EXCEPTION = "__streams.errors.exception"
DLQ_STACKTRACE = "__streams.errors.stacktrace"
DLQ_MESSAGE = "__streams.errors.message"
DLQ_TOPIC = "__streams.errors.topic"
DLQ_PARTITION = "__streams.errors.partition"
DLQ_OFFSET = "__streams.errors.offset"
_MAX_STACKTRACE_BYTES = 16 * 1024


def dead_letter_headers(raw: RawMessage, reason: Reason) -> Headers:
    """KIP-1034's six headers. The exception is the cause's class when user code raised (a
    feature module), else the stage's error class; the trace is the cause's, when there is one."""
    name = reason.exception
    trace = reason.trace or f"{name}: {reason.stage}/{reason.code}: {reason.message}"
    return (
        (DLQ_EXCEPTION, name.encode()),
        (DLQ_STACKTRACE, trace.encode("utf-8", errors="replace")[:_MAX_STACKTRACE_BYTES]),
        (DLQ_MESSAGE, f"{reason.code}: {reason.message}".encode("utf-8", errors="replace")[:2000]),
        (DLQ_TOPIC, raw.topic.encode()),
        (DLQ_PARTITION, str(raw.partition).encode()),
        (DLQ_OFFSET, str(raw.offset).encode()),
    )
