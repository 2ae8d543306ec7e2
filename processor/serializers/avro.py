"""Avro single-object encoding: ``C3 01`` + 8-byte little-endian CRC-64-AVRO fingerprint + payload."""

from __future__ import annotations

import io
from typing import Any

import fastavro

from processor.serializers.schemas import InputSchema

SINGLE_OBJECT_MAGIC = b"\xc3\x01"
HEADER_SIZE = 10
CONFLUENT_MAGIC = b"\x00"


def encode_single_object(schema: InputSchema, record: dict[str, Any]) -> bytes:
    buf = io.BytesIO()
    buf.write(SINGLE_OBJECT_MAGIC)
    buf.write(schema.fingerprint)
    fastavro.schemaless_writer(buf, schema.parsed, record)
    return buf.getvalue()


def encode_record(parsed_schema: Any, record: dict[str, Any]) -> bytes:
    """Plain Avro binary (no framing): the payload of an ``avro-registry`` output, after its Confluent header."""
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, parsed_schema, record)
    return buf.getvalue()
