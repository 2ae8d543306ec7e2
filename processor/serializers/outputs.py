"""Encode output records: JSON by default, or Confluent-framed Avro of processor/schemas/output/*.avsc
through a schema registry (``outputs.format: avro-registry``): the two formats ``outputs.format`` names.

In JSON, ``bytes`` fields (the quarantine record's original key and value, header values) are
base64 strings, so any byte sequence survives the round trip exactly.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping
from typing import Any, Literal

import fastavro
import orjson

from processor.serializers.avro import encode_record
from processor.serializers.registry import CONFLUENT_HEADER_SIZE, CONFLUENT_MAGIC, OutputSchemaIds, frame
from processor.serializers.schemas import SchemaStore, output_schema, without_logical_types

_BYTES_FIELDS = ("key", "value")


#: The ``content-type`` header of each encoding.
CONTENT_TYPES = {
    "json": b"application/json",
    "avro-registry": b"application/vnd.confluent.avro",  # magic 0 + 4-byte schema id + Avro binary
}


#: Every output record names its schema (``processor.outputs.ScoredRecord``) and version in these headers.
SCHEMA_HEADER = "processor-schema"
SCHEMA_VERSION_HEADER = "processor-schema-version"


class OutputEncoder:
    def __init__(
        self,
        schemas: SchemaStore,
        encoding: Literal["json", "avro-registry"] = "json",
        registry: OutputSchemaIds | None = None,
    ) -> None:
        if encoding == "avro-registry" and registry is None:
            raise ValueError("avro-registry outputs need the registry's schema ids")
        self._schemas = schemas
        self._registry = registry
        self.encoding = encoding
        self.content_type = CONTENT_TYPES[encoding]

    def schema_headers(self, schema_name: str) -> tuple[tuple[str, bytes], ...]:
        """``processor-schema`` (the full Avro name) and ``processor-schema-version`` of an output.

        A consumer picks its reader by them, and a version bump (a changed output schema) is seen
        on the record itself rather than by a decoding failure.
        """
        full_name, version = self._schemas.output_ids[schema_name]
        return ((SCHEMA_HEADER, full_name.encode()), (SCHEMA_VERSION_HEADER, str(version).encode()))

    def encode(self, schema_name: str, record: dict[str, Any], topic: str = "") -> bytes:
        """``topic`` names the subject under TopicNameStrategy (avro-registry only)."""
        if self.encoding == "avro-registry":
            assert self._registry is not None
            schema_id = self._registry.id_for(schema_name, topic)  # cached after the first call
            return frame(schema_id, encode_record(self._schemas.outputs[schema_name], record))
        if schema_name == "quarantine":
            record = _bytes_to_base64(record)
        return orjson.dumps(record)


def _bytes_to_base64(record: dict[str, Any]) -> dict[str, Any]:
    out = dict(record)
    for name in _BYTES_FIELDS:
        if out.get(name) is not None:
            out[name] = base64.b64encode(out[name]).decode("ascii")
    out["headers"] = [
        {"key": h["key"], "value": base64.b64encode(h["value"]).decode("ascii") if h["value"] is not None else None}
        for h in record["headers"]
    ]
    return out


def decode_json_output(value: bytes) -> dict[str, Any]:
    """Read a JSON output record back (bytes fields of quarantine records decoded)."""
    record: dict[str, Any] = orjson.loads(value)
    if "stage" in record and "source_offset" in record:
        for name in _BYTES_FIELDS:
            if record.get(name) is not None:
                record[name] = base64.b64decode(record[name])
        record["headers"] = [
            {"key": h["key"], "value": base64.b64decode(h["value"]) if h["value"] is not None else None}
            for h in record["headers"]
        ]
    return record


_OWN_READERS: dict[str, tuple[bytes, bytes, Any]] = {}


def decode_registry_output(schema_name: str, value: bytes, headers: Mapping[str, bytes | None]) -> dict[str, Any]:
    """Read one of this project's own ``avro-registry`` outputs (review app, quarantine tools).

    The processor registers exactly the output schemas the package carries, and every record names
    its schema and version in headers (``processor-schema``, ``processor-schema-version``), so the
    package's schema reads it without a registry round trip: a registry outage cannot stop the review
    app or the quarantine tools. A record another schema or version wrote is refused (ValueError),
    never misread. Times come back as epoch milliseconds, as in JSON.
    """
    reader = _OWN_READERS.get(schema_name)
    if reader is None:
        schema = output_schema(schema_name)
        full_name = f"{schema['namespace']}.{schema['name']}".encode()
        version = str(int(schema.get("version", 1))).encode()
        reader = _OWN_READERS[schema_name] = (
            full_name,
            version,
            fastavro.parse_schema(without_logical_types(schema), _write_hint=False),
        )
    full_name, version, parsed = reader
    written = (headers.get(SCHEMA_HEADER), headers.get(SCHEMA_VERSION_HEADER))
    if written != (full_name, version):
        raise ValueError(
            f"written as {written[0]!r} version {written[1]!r}; this reader has {full_name.decode()} version "
            f"{version.decode()}"
        )
    if len(value) < CONFLUENT_HEADER_SIZE or not value.startswith(CONFLUENT_MAGIC):
        raise ValueError("not a Confluent-framed value")
    try:
        record = fastavro.schemaless_reader(io.BytesIO(value[CONFLUENT_HEADER_SIZE:]), parsed, None)
    except (EOFError, ValueError, IndexError, UnicodeDecodeError) as exc:
        raise ValueError(f"not a {full_name.decode()} record: {exc}") from exc
    if not isinstance(record, dict):
        raise ValueError("the framed value is not an Avro record")
    return record
