"""The Avro schemas: a project's input types by name and version, the processor's outputs by name.

Input schemas are files ``<project>/schemas/input/<event_type>.v<N>.avsc``. Each is indexed by its
CRC-64-AVRO fingerprint (Avro single-object encoding names the writer schema that way). The
output schemas are the processor's own contract and ship inside the package
(``processor/schemas/output``, read with importlib.resources).
"""

from __future__ import annotations

import importlib.resources
import json
import re
import struct
from dataclasses import dataclass
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import fastavro
from fastavro.schema import to_parsing_canonical_form

from processor.errors import ConfigError

_FILE_NAME = re.compile(r"^(?P<name>[a-z][a-z0-9_]*)\.v(?P<version>[0-9]+)\.avsc$")

# CRC-64-AVRO, as the Avro specification defines it ("Schema Fingerprints").
_EMPTY64 = 0xC15D213AA4D7A795


def _make_table() -> list[int]:
    table = []
    for i in range(256):
        fp = i
        for _ in range(8):
            fp = (fp >> 1) ^ (_EMPTY64 & -(fp & 1))
        table.append(fp)
    return table


_TABLE = _make_table()


def crc64_avro(data: bytes) -> int:
    fp = _EMPTY64
    for byte in data:
        fp = (fp >> 8) ^ _TABLE[(fp ^ byte) & 0xFF]
    return fp


def fingerprint(schema: dict[str, Any]) -> bytes:
    """The 8-byte little-endian CRC-64-AVRO fingerprint of a schema's parsing canonical form."""
    canonical = to_parsing_canonical_form(schema)
    return struct.pack("<Q", crc64_avro(canonical.encode("utf-8")))


@dataclass(frozen=True, slots=True)
class InputSchema:
    name: str
    version: int
    schema: dict[str, Any]  # the JSON form, as written in the file
    parsed: Any  # fastavro's parsed form
    fingerprint: bytes
    fields: dict[str, dict[str, Any]]  # field name -> field definition


class SchemaStore:
    """Every input schema by (name, version) and by fingerprint, and the output schemas by name."""

    def __init__(self, schemas_dir: Path) -> None:
        self.root = schemas_dir
        self._by_name: dict[str, dict[int, InputSchema]] = {}
        self._by_fingerprint: dict[bytes, InputSchema] = {}
        self.outputs: dict[str, Any] = {}
        #: Output schema name -> (full Avro name, version): what the ``processor-schema`` headers say.
        self.output_ids: dict[str, tuple[str, int]] = {}
        self.output_json: dict[str, dict[str, Any]] = {}  # as written in the files (what a registry stores)
        input_dir = schemas_dir / "input"
        if not input_dir.is_dir():
            raise ConfigError("schemas_missing", f"no input schemas folder at {input_dir}")
        for path in sorted(input_dir.glob("*.avsc")):
            match = _FILE_NAME.match(path.name)
            if match is None:
                raise ConfigError("schema_file_name", f"{path}: input schema files are named <event_type>.v<N>.avsc")
            schema = self._read(path)
            if schema.get("type") != "record" or not isinstance(schema.get("fields"), list):
                raise ConfigError("schema_invalid", f"{path}: an input schema must be a record with fields")
            entry = InputSchema(
                name=match["name"],
                version=int(match["version"]),
                schema=schema,
                parsed=fastavro.parse_schema(_without_logical_types(schema), _write_hint=False),
                fingerprint=fingerprint(schema),
                fields={f["name"]: f for f in schema["fields"]},
            )
            self._by_name.setdefault(entry.name, {})[entry.version] = entry
            self._by_fingerprint[entry.fingerprint] = entry
        for resource in output_schema_files():
            name = resource.name.removesuffix(".avsc")
            schema = self._read(resource)
            self.output_json[name] = schema
            self.outputs[name] = fastavro.parse_schema(schema, _write_hint=False)
            self.output_ids[name] = (f"{schema['namespace']}.{schema['name']}", int(schema.get("version", 1)))

    @staticmethod
    def _read(path: Path | Traversable) -> dict[str, Any]:
        try:
            schema = json.loads(path.read_text(encoding="utf-8"))
            fastavro.parse_schema(schema)
        except (ValueError, TypeError, KeyError, fastavro.schema.SchemaParseException) as exc:
            raise ConfigError("schema_invalid", f"{path}: {exc}") from exc
        if not isinstance(schema, dict):
            raise ConfigError("schema_invalid", f"{path}: a schema file must hold a named type, not {schema!r}")
        return schema

    def names(self) -> list[str]:
        return sorted(self._by_name)

    def has(self, name: str) -> bool:
        return name in self._by_name

    def latest(self, name: str) -> InputSchema:
        versions = self._by_name[name]
        return versions[max(versions)]

    def get(self, name: str, version: int | None) -> InputSchema | None:
        versions = self._by_name.get(name)
        if versions is None:
            return None
        if version is None:
            return versions[max(versions)]
        return versions.get(version)

    def by_fingerprint(self, fp: bytes) -> InputSchema | None:
        return self._by_fingerprint.get(fp)

    def versions(self, name: str) -> list[int]:
        return sorted(self._by_name.get(name, {}))


def without_logical_types(schema: Any) -> Any:
    """Public name of ``_without_logical_types`` (the registry's writer schemas are read the same way)."""
    return _without_logical_types(schema)


def output_schema_files() -> list[Traversable]:
    """The output schemas (``<name>.avsc``) the package carries, by name."""
    folder = importlib.resources.files("processor").joinpath("schemas", "output")
    return sorted((f for f in folder.iterdir() if f.name.endswith(".avsc")), key=lambda f: f.name)


def output_schema(name: str) -> dict[str, Any]:
    """One output schema's JSON form (``scored``, ``review``, ``quarantine``, ``feedback``, ``shadow``)."""
    text = importlib.resources.files("processor").joinpath("schemas", "output", f"{name}.avsc").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def _without_logical_types(schema: Any) -> Any:
    """The schema with logicalType annotations removed, for reading and writing the wire format.

    fastavro turns ``timestamp-millis`` into ``datetime`` objects; the pipeline works on epoch
    milliseconds (as JSON producers send them), so it reads the underlying ``long`` instead. The
    fingerprint is unaffected: the parsing canonical form drops logicalType anyway.
    """
    if isinstance(schema, dict):
        return {k: _without_logical_types(v) for k, v in schema.items() if k != "logicalType"}
    if isinstance(schema, list):
        return [_without_logical_types(v) for v in schema]
    return schema
