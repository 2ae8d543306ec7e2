"""decode: value bytes to a record with its envelope read.

JSON (UTF-8 object), Avro single-object encoding and Confluent framing (schema registry) are
recognised by their first bytes. Every failure becomes a ``Rejected`` value with a specific code
(the per-event helpers raise; ``decode_batch`` turns the error into a ``Reason``); nothing here
raises into the loop, except ``RegistryUnavailable``: an unreachable schema registry
says nothing about the input, so the whole batch is retried once it answers (see ``app``).
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable
from typing import Any

import fastavro
import orjson

from processor.config import PipelinesConfig, ProcessingSettings
from processor.envelope import check_envelope
from processor.errors import DecodeError, ProcessorError, SchemaError, unexpected
from processor.messages import Event, RawMessage, Rejected
from processor.serializers.avro import CONFLUENT_MAGIC, HEADER_SIZE, SINGLE_OBJECT_MAGIC
from processor.serializers.registry import CONFLUENT_HEADER_SIZE, RegistryUnavailable, WriterSchemas
from processor.serializers.schemas import InputSchema, SchemaStore

_STRING_LITERAL = re.compile(rb'"(?:[^"\\]|\\.)*"')
_NON_FINITE = re.compile(rb"(?<![\w.])-?(NaN|Infinity)(?![\w.])")


class Decoder:
    def __init__(
        self,
        schemas: SchemaStore,
        pipelines: PipelinesConfig,
        settings: ProcessingSettings,
        writers: WriterSchemas | None = None,
    ) -> None:
        self._schemas = schemas
        self._writers = writers
        self._pipelines = pipelines
        self._max_bytes = settings.max_message_bytes
        self._max_depth = settings.max_json_depth

    def decode_batch(self, raws: Iterable[RawMessage]) -> tuple[list[Event], list[Rejected]]:
        events: list[Event] = []
        rejected: list[Rejected] = []
        for raw in raws:
            try:
                events.append(self.decode(raw))
            except ProcessorError as exc:  # the stage boundary: from here on a rejection is a value
                exc.raw = raw
                rejected.append(Rejected(raw, exc.reason()))
            except RegistryUnavailable:
                raise
            except Exception as exc:  # a decoder bug must cost one event, not the partition
                rejected.append(Rejected(raw, unexpected(exc, raw).reason()))
        return events, rejected

    def decode(self, raw: RawMessage) -> Event:
        value = raw.value
        if value is None:
            raise DecodeError("tombstone", "null value (tombstone): an event needs a body")
        if len(value) > self._max_bytes:
            raise DecodeError("oversized", f"value is {len(value)} bytes, over the {self._max_bytes}-byte limit")
        if value.startswith(SINGLE_OBJECT_MAGIC):
            record, encoding = self._decode_avro(value), "avro"
        elif value.startswith(CONFLUENT_MAGIC):
            record, encoding = self._decode_confluent(value), "avro"
        else:
            record, encoding = self._decode_json(value), "json"
        return self._envelope(raw, record, encoding)

    # -- JSON ----------------------------------------------------------------------------------

    def _decode_json(self, value: bytes) -> dict[str, Any]:
        try:
            parsed = orjson.loads(value)
        except orjson.JSONDecodeError as exc:
            raise self._diagnose_json(value, exc) from None
        if not isinstance(parsed, dict):
            raise DecodeError("not_an_object", f"JSON value is a {type(parsed).__name__}, not an object")
        # Counting brackets is a cheap C-level scan; only walk when nesting could exceed the limit.
        if value.count(b"{") + value.count(b"[") > self._max_depth and json_depth(parsed) > self._max_depth:
            raise DecodeError("too_deeply_nested", f"JSON nests deeper than {self._max_depth} levels")
        return parsed

    def _diagnose_json(self, value: bytes, exc: Exception) -> DecodeError:
        try:
            value.decode("utf-8")
        except UnicodeDecodeError as uexc:
            return DecodeError("invalid_utf8", f"value is not UTF-8: {uexc.reason} at byte {uexc.start}")
        if _NON_FINITE.search(_STRING_LITERAL.sub(b'""', value)):
            return DecodeError("non_finite_number", "JSON contains NaN or Infinity, which JSON does not allow")
        if any(word in str(exc).lower() for word in ("recursion", "depth")):
            return DecodeError("too_deeply_nested", f"JSON nests deeper than {self._max_depth} levels")
        return DecodeError("invalid_json", f"value is not valid JSON: {exc}")

    # -- Avro ----------------------------------------------------------------------------------

    def _decode_avro(self, value: bytes) -> dict[str, Any]:
        if len(value) < HEADER_SIZE:
            raise DecodeError("avro_truncated", "Avro single-object header is shorter than 10 bytes")
        writer = self._schemas.by_fingerprint(value[2:HEADER_SIZE])
        if writer is None:
            raise DecodeError(
                "unknown_schema_fingerprint",
                f"no schema in schemas/input has fingerprint {value[2:HEADER_SIZE].hex()}",
            )
        reader = self._schemas.latest(writer.name)
        return self._read_avro(
            value, HEADER_SIZE, writer.parsed, reader, f"{writer.name} v{writer.version}", writer.version
        )

    def _read_avro(
        self, value: bytes, offset: int, writer: Any, reader: InputSchema, label: str, version: int
    ) -> dict[str, Any]:
        """The Avro record after the ``offset``-byte header, written with ``writer``, read as ``reader``."""
        buf = io.BytesIO(value)
        buf.seek(offset)
        try:
            record = fastavro.schemaless_reader(buf, writer, reader.parsed)
        except (EOFError, StopIteration, IndexError):  # IndexError: cut inside a varint
            raise DecodeError("avro_truncated", f"Avro payload ends early for {label}") from None
        except Exception as exc:  # fastavro raises many types on corrupt input; all mean "corrupt"
            raise DecodeError("avro_corrupt", f"Avro payload does not decode as {label}: {exc!r}") from None
        if buf.tell() != len(value):
            raise DecodeError("avro_trailing_bytes", f"{len(value) - buf.tell()} bytes follow the Avro record")
        if not isinstance(record, dict):
            raise DecodeError("avro_corrupt", "Avro payload is not a record")
        if record.get("event_type") != reader.name:
            raise SchemaError(
                "event_type_mismatch",
                f"event_type {record.get('event_type')!r} does not match writer schema {label}",
                field="event_type",
            )
        if record.get("schema_version") is None:
            record["schema_version"] = version
        return dict(record)

    def _decode_confluent(self, value: bytes) -> dict[str, Any]:
        if self._writers is None:
            raise DecodeError(
                "schema_registry_not_configured",
                "value is in Confluent wire format (magic byte 0) but no schema registry is configured",
            )
        if len(value) < CONFLUENT_HEADER_SIZE:
            raise DecodeError("confluent_truncated", "Confluent header (magic byte + 4-byte schema id) is cut short")
        writer = self._writers.get(int.from_bytes(value[1:CONFLUENT_HEADER_SIZE], "big"))
        label = f"schema id {writer.schema_id} ({writer.event_type})"
        return self._read_avro(value, CONFLUENT_HEADER_SIZE, writer.writer, writer.reader, label, writer.version)

    # -- Envelope ------------------------------------------------------------------------------

    def _validation_of(self, event_type: str) -> str | None:
        """The type's validation policy; None when no pipeline, or no schema, handles it."""
        config = self._pipelines.event_types.get(event_type)
        if config is None or not self._schemas.has(config.schema_name or event_type):
            return None
        return config.validation

    def _envelope(self, raw: RawMessage, record: dict[str, Any], encoding: str) -> Event:
        envelope = check_envelope(record, self._validation_of)  # the gateway checks with the same rules
        # the record carries the envelope as read, so later stages see one shape
        record["event_id"], record["entity_id"] = envelope.event_id, envelope.entity_id
        record["occurred_at"] = envelope.occurred_at
        if "sequence" in envelope.coercions:
            record["sequence"] = envelope.sequence
        return Event(
            raw=raw,
            record=record,
            event_id=envelope.event_id,
            event_type=envelope.event_type,
            entity_id=envelope.entity_id,
            occurred_at=envelope.occurred_at,
            sequence=envelope.sequence,
            schema_version=envelope.schema_version,
            encoding=encoding,
            coercions=envelope.coercions,
        )


def json_depth(value: Any) -> int:
    """Nesting depth, iteratively (a recursive walk could itself overflow on hostile input)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        if isinstance(node, dict):
            stack.extend((v, depth + 1) for v in node.values() if isinstance(v, dict | list))
        elif isinstance(node, list):
            stack.extend((v, depth + 1) for v in node if isinstance(v, dict | list))
    return deepest
