"""Encode output records: JSON by default, Avro (plain binary, processor/schemas/output/*.avsc) when configured,
or Confluent-framed Avro through a schema registry (``outputs.format: avro-registry``).

In JSON, ``bytes`` fields (the quarantine record's original key and value, header values) are
base64 strings, so any byte sequence survives the round trip exactly.
"""

from __future__ import annotations

import base64
from typing import Any, Literal

import orjson

from processor.serializers.avro import encode_record
from processor.serializers.registry import OutputSchemaIds, frame
from processor.serializers.schemas import SchemaStore

_BYTES_FIELDS = ("key", "value")


#: The ``content-type`` header of each encoding.
CONTENT_TYPES = {
    "json": b"application/json",
    "avro": b"avro/binary",
    "avro-registry": b"application/vnd.confluent.avro",  # magic 0 + 4-byte schema id + Avro binary
}


#: Every output record names its schema (``processor.outputs.ScoredRecord``) and version in these headers.
SCHEMA_HEADER = "processor-schema"
SCHEMA_VERSION_HEADER = "processor-schema-version"


class OutputEncoder:
    def __init__(
        self,
        schemas: SchemaStore,
        encoding: Literal["json", "avro", "avro-registry"] = "json",
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
        if self.encoding == "avro":
            return encode_record(self._schemas.outputs[schema_name], record)
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
