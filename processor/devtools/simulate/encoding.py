"""Turning records into message values: JSON, Avro single-object, and Avro that cannot decode.

Avro values use the writer schema from ``schemas/input`` that matches the event's type and
``schema_version``, through ``processor.serializers.avro.encode_single_object``: exactly what a
well-behaved producer would send. The two Avro faults need a little knowledge of the encoding:

- an *unregistered fingerprint* comes from a plausible next schema version (one extra optional
  field) that a newer client already writes but the processor has not been given;
- a *truncated* value is cut where a reader runs out of bytes. Cuts inside a multi-byte varint
  are avoided: fastavro reports those as ``IndexError`` rather than end-of-data, which the
  decoder classifies as ``avro_corrupt``; cuts at field boundaries, inside string bodies or
  inside the 10-byte header (after the 2-byte magic) are unambiguous truncations.
"""

from __future__ import annotations

import copy
import io
from typing import Any

import fastavro
import orjson

from processor.messages import Headers
from processor.serializers.avro import HEADER_SIZE, SINGLE_OBJECT_MAGIC, encode_single_object
from processor.serializers.schemas import InputSchema, SchemaStore, fingerprint

JSON_HEADERS: Headers = (("content-type", b"application/json"),)
AVRO_HEADERS: Headers = (("content-type", b"application/vnd.apache.avro+binary"),)

#: The field a not-yet-deployed schema version adds, and what newer clients put in it.
_NEXT_VERSION_FIELD = "client_build"
_NEXT_VERSION_VALUE = "2026.11.3-beta"


def to_json(record: dict[str, Any]) -> bytes:
    return orjson.dumps(record)


class AvroEncoder:
    """Avro single-object values for records of the input types, and their broken variants."""

    def __init__(self, schemas: SchemaStore) -> None:
        self._schemas = schemas
        self._unregistered: dict[tuple[str, int], tuple[bytes, Any]] = {}
        self._field_parsers: dict[tuple[str, int], list[tuple[str, Any, bool]]] = {}

    def writer(self, record: dict[str, Any]) -> InputSchema:
        name = str(record["event_type"])
        version = record.get("schema_version")
        schema = self._schemas.get(name, int(version) if version is not None else None)
        if schema is None:
            raise ValueError(f"no input schema {name} v{version} in {self._schemas.root}")
        return schema

    def encode(self, record: dict[str, Any]) -> bytes:
        return encode_single_object(self.writer(record), record)

    def encode_unregistered(self, record: dict[str, Any]) -> bytes:
        """The record as a newer client writes it: a schema version the processor does not have."""
        writer = self.writer(record)
        key = (writer.name, writer.version)
        if key not in self._unregistered:
            schema = copy.deepcopy(writer.schema)
            schema["doc"] = f"{schema.get('doc', '')} Next version (not deployed)."
            schema["fields"].append(
                {"name": _NEXT_VERSION_FIELD, "type": ["null", "string"], "default": None, "doc": "Client build."}
            )
            fp = fingerprint(schema)
            if self._schemas.by_fingerprint(fp) is not None:  # pragma: no cover - would need a v-next schema
                raise ValueError(f"the 'unregistered' variant of {writer.name} v{writer.version} is registered")
            self._unregistered[key] = (fp, fastavro.parse_schema(schema))
        fp, parsed = self._unregistered[key]
        buf = io.BytesIO()
        buf.write(SINGLE_OBJECT_MAGIC)
        buf.write(fp)
        fastavro.schemaless_writer(buf, parsed, {**record, _NEXT_VERSION_FIELD: _NEXT_VERSION_VALUE})
        return buf.getvalue()

    def truncation_points(self, record: dict[str, Any]) -> list[int]:
        """Lengths to cut an encoded value to that a reader unambiguously sees as truncated.

        Every field boundary before the end, and every position strictly inside a string body
        (a string's bytes come last in its encoding). Header cuts (2..9) are added by the caller.
        """
        writer = self.writer(record)
        points: list[int] = []
        offset = HEADER_SIZE
        for name, parsed, is_string in self._fields(writer):
            points.append(offset)
            buf = io.BytesIO()
            value = record.get(name)
            fastavro.schemaless_writer(buf, parsed, value)
            size = len(buf.getvalue())
            if is_string and isinstance(value, str):
                body = len(value.encode("utf-8"))
                points.extend(range(offset + size - body + 1, offset + size))
            offset += size
        return points

    def _fields(self, writer: InputSchema) -> list[tuple[str, Any, bool]]:
        key = (writer.name, writer.version)
        if key not in self._field_parsers:
            parsers = []
            for field in writer.schema["fields"]:
                kind = field["type"]
                is_string = kind == "string" or (isinstance(kind, list) and "string" in kind)
                parsers.append((field["name"], fastavro.parse_schema(kind), is_string))
            self._field_parsers[key] = parsers
        return self._field_parsers[key]
