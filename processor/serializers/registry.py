"""A Confluent-compatible schema registry: writer schemas by id, subjects, and the wire format.

Confluent framing is ``00`` + the schema id as 4 bytes big-endian + Avro binary written with that
schema. The processor reads it by fetching the writer schema once per id (cached for the life of
the process: an id names one schema forever) and resolving it against its own reader schema of
the same record name (schemas/input), so a producer's older or newer version is read into the
shape the pipeline knows.

A registry that cannot be asked (refused, timed out, a 5xx or an auth failure) raises
``RegistryUnavailable``: the caller waits and retries the whole batch, it never quarantines for
it. An id the registry does not know and a writer schema that cannot resolve are the input's
fault: they become ``DecodeError``/``SchemaError`` values with a specific code.
"""

from __future__ import annotations

import io
import json
import logging
import struct
import threading
import time
from dataclasses import dataclass
from typing import Any

import fastavro
import httpx
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.error import SchemaRegistryError

from processor.config import SchemaRegistrySettings
from processor.errors import DecodeError, SchemaError
from processor.serializers.schemas import InputSchema, SchemaStore, fingerprint, without_logical_types

CONFLUENT_MAGIC = b"\x00"
CONFLUENT_HEADER_SIZE = 5  # magic byte + 4-byte big-endian schema id
_UNKNOWN_ID_RETRY_S = 30.0  # an unknown id is asked again after this long (a registry restored from backup)


class RegistryUnavailable(Exception):
    """The registry could not answer; nothing about the input is known yet."""


def make_client(settings: SchemaRegistrySettings) -> SchemaRegistryClient:
    """A client that fails fast: the processor waits and retries itself, batch by batch."""
    if settings.url is None:
        raise ValueError("schema_registry.url is not set")
    # the HTTP library logs every request at INFO; one line per new schema id is not news
    for name in ("httpx", "httpx2"):
        if logging.getLogger(name).level == logging.NOTSET:
            logging.getLogger(name).setLevel(logging.WARNING)
    conf: dict[str, Any] = {"url": settings.url, "timeout": settings.timeout_s, "max.retries": 0}
    if settings.username is not None:
        password = settings.password.get_secret_value() if settings.password is not None else ""
        conf["basic.auth.user.info"] = f"{settings.username}:{password}"
    return SchemaRegistryClient(conf)


def is_unavailable(exc: Exception) -> bool:
    """Whether an error from the client means "could not ask" rather than "the answer is no"."""
    if isinstance(exc, httpx.TransportError | OSError | TimeoutError):
        return True
    # the client's HTTP library may be httpx or a fork of it under another module name (httpx2):
    # a transport failure (refused, reset, timed out, DNS) is its TransportError either way
    if any(cls.__name__ == "TransportError" for cls in type(exc).__mro__):
        return True
    if isinstance(exc, SchemaRegistryError):
        status = exc.http_status_code
        return status >= 500 or status in (401, 403, 408, 429) or status == -1
    return False


def frame(schema_id: int, payload: bytes) -> bytes:
    return CONFLUENT_MAGIC + struct.pack(">I", schema_id) + payload


def full_name(schema: dict[str, Any]) -> str:
    name = str(schema["name"])
    namespace = schema.get("namespace")
    return name if "." in name or not namespace else f"{namespace}.{name}"


def subject_for(strategy: str, topic: str, schema: dict[str, Any]) -> str:
    """The subject a value schema is registered under: TopicNameStrategy or RecordNameStrategy."""
    return f"{topic}-value" if strategy == "topic" else full_name(schema)


@dataclass(frozen=True, slots=True)
class WriterSchema:
    """A registry schema resolved against the processor's reader schema of the same record."""

    schema_id: int
    event_type: str
    version: int  # the local version it equals, or the reader's (latest) version it is read as
    writer: Any  # fastavro parsed writer schema
    reader: InputSchema


class WriterSchemas:
    """Writer schemas by id: one registry request per new id, never one per event."""

    def __init__(self, client: SchemaRegistryClient, schemas: SchemaStore) -> None:
        self._client = client
        self._schemas = schemas
        self._readers: dict[str, InputSchema] = {}
        self._by_fingerprint: dict[bytes, InputSchema] = {}
        for name in schemas.names():
            for version in schemas.versions(name):
                entry = schemas.get(name, version)
                assert entry is not None
                self._by_fingerprint[entry.fingerprint] = entry
            latest = schemas.latest(name)
            self._readers[full_name(latest.schema)] = latest
        self._resolved: dict[int, WriterSchema | SchemaError] = {}
        self._unknown: dict[int, float] = {}  # id -> monotonic time it was found missing
        self._lock = threading.Lock()
        self.fetches = 0  # registry requests made (a test and the metrics read it)

    def get(self, schema_id: int) -> WriterSchema:
        """The resolved writer schema; ``DecodeError``/``SchemaError`` for bad input,
        ``RegistryUnavailable`` when the registry cannot be asked."""
        hit = self._resolved.get(schema_id)
        if hit is None:
            with self._lock:
                hit = self._resolved.get(schema_id)
                if hit is None:
                    hit = self._fetch(schema_id)
        if isinstance(hit, SchemaError):
            raise SchemaError(hit.code, hit.message, field=hit.field, event_type=hit.event_type)
        return hit

    def ping(self) -> None:
        """One cheap request; ``RegistryUnavailable`` unless the registry answers."""
        try:
            self._client.get_subjects()
        except Exception as exc:
            if is_unavailable(exc):
                raise RegistryUnavailable(f"schema registry: {exc}") from exc
            raise

    def _fetch(self, schema_id: int) -> WriterSchema | SchemaError:
        missing_since = self._unknown.get(schema_id)
        if missing_since is not None and time.monotonic() - missing_since < _UNKNOWN_ID_RETRY_S:
            raise _unknown_id(schema_id)
        try:
            self.fetches += 1
            schema = self._client.get_schema(schema_id)
        except Exception as exc:
            if isinstance(exc, SchemaRegistryError) and exc.http_status_code == 404:
                self._unknown[schema_id] = time.monotonic()
                raise _unknown_id(schema_id) from None
            if is_unavailable(exc):
                raise RegistryUnavailable(f"schema registry: {exc}") from exc
            raise
        self._unknown.pop(schema_id, None)
        result = self._resolve(schema_id, schema)
        self._resolved[schema_id] = result
        return result

    def _resolve(self, schema_id: int, schema: Schema) -> WriterSchema | SchemaError:
        if schema.schema_type not in (None, "AVRO"):
            return SchemaError("not_avro", f"schema id {schema_id} is {schema.schema_type}, not Avro")
        try:
            parsed_json = json.loads(schema.schema_str or "")
            writer = fastavro.parse_schema(without_logical_types(parsed_json), _write_hint=False)
        except Exception as exc:  # the registry holds something fastavro cannot read
            return SchemaError("writer_schema_invalid", f"schema id {schema_id} does not parse: {exc}")
        if not isinstance(parsed_json, dict) or parsed_json.get("type") != "record":
            return SchemaError("writer_schema_not_a_record", f"schema id {schema_id} is not an Avro record")
        name = full_name(parsed_json)
        reader = self._readers.get(name)
        if reader is None:
            return SchemaError(
                "unknown_record_name",
                f"schema id {schema_id} writes {name}, which no schema in schemas/input reads",
            )
        problem = resolution_problem(parsed_json, reader.schema, "")
        if problem is not None:
            field, why = problem
            return SchemaError(
                "schema_unresolvable",
                f"schema id {schema_id} ({name}) cannot be read as {reader.name} v{reader.version}: {why}",
                field=field,
                event_type=reader.name,
            )
        local = self._by_fingerprint.get(fingerprint(parsed_json))
        version = local.version if local is not None and local.name == reader.name else reader.version
        return WriterSchema(schema_id, reader.name, version, writer, reader)


def _unknown_id(schema_id: int) -> DecodeError:
    return DecodeError("unknown_schema_id", f"the schema registry has no schema with id {schema_id}")


# -- Avro schema resolution (the specification's rules), checked once per writer schema ----------

_PROMOTIONS = {
    "int": {"long", "float", "double"},
    "long": {"float", "double"},
    "float": {"double"},
    "string": {"bytes"},
    "bytes": {"string"},
}
_NAMED = ("record", "enum", "fixed")


def resolution_problem(writer: Any, reader: Any, path: str) -> tuple[str, str] | None:
    """``(field path, why)`` when data written with ``writer`` cannot be read with ``reader``.

    A writer union must resolve branch by branch (any branch may be on the wire); a reader union
    needs one branch the writer's type resolves to. Logical types read as their base types.
    """
    if isinstance(writer, list):
        for branch in writer:
            problem = resolution_problem(branch, reader, path)
            if problem is not None:
                return problem
        return None
    if isinstance(reader, list):
        if any(resolution_problem(writer, branch, path) is None for branch in reader):
            return None
        return path, f"{_type_name(writer)} matches no branch of the reader's union {[_type_name(r) for r in reader]}"
    w_type, r_type = _base(writer), _base(reader)
    if w_type != r_type:
        if r_type in _PROMOTIONS.get(w_type, set()):
            return None
        return path, f"written as {w_type}, read as {r_type}"
    if w_type in _NAMED and _short(writer) != _short(reader):
        return path, f"written as {_short(writer)}, read as {_short(reader)}"
    if w_type == "record":
        w_fields = {f["name"]: f for f in writer["fields"]}
        for field in reader["fields"]:
            name = field["name"]
            sub = f"{path}.{name}" if path else name
            source = w_fields.get(name) or next((w_fields[a] for a in field.get("aliases", []) if a in w_fields), None)
            if source is None:
                if "default" not in field:
                    return sub, "the reader requires it (no default) and the writer does not have it"
                continue
            problem = resolution_problem(source["type"], field["type"], sub)
            if problem is not None:
                return problem
    elif w_type == "enum":
        extra = [s for s in writer["symbols"] if s not in reader["symbols"]]
        if extra and "default" not in reader:
            return path, f"enum symbols {extra} are unknown to the reader"
    elif w_type == "fixed":
        if writer["size"] != reader["size"]:
            return path, f"fixed size {writer['size']} written, {reader['size']} read"
    elif w_type == "array":
        return resolution_problem(writer["items"], reader["items"], f"{path}[]")
    elif w_type == "map":
        return resolution_problem(writer["values"], reader["values"], f"{path}{{}}")
    return None


def _base(schema: Any) -> str:
    if isinstance(schema, dict):
        return str(schema["type"]) if not isinstance(schema["type"], dict | list) else _base(schema["type"])
    return str(schema)


def _short(schema: Any) -> str:
    return str(schema.get("name", "")).rsplit(".", 1)[-1] if isinstance(schema, dict) else str(schema)


def _type_name(schema: Any) -> str:
    return _short(schema) if isinstance(schema, dict) and _base(schema) in _NAMED else _base(schema)


# -- output schemas: ids for writing, and reading framed records back ----------------------------


class OutputSchemaIds:
    """The registry id of each output schema under its subject, registered on first use.

    Registering an identical schema again returns its existing id, so every processor of a group
    agrees; a refusal (an incompatible change) is a configuration error, not a batch to retry.
    """

    def __init__(self, client: SchemaRegistryClient, outputs_json: dict[str, dict[str, Any]], strategy: str) -> None:
        self._client = client
        self._outputs = outputs_json
        self._strategy = strategy
        self._ids: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()

    def subject(self, schema_name: str, topic: str) -> str:
        return subject_for(self._strategy, topic, self._outputs[schema_name])

    def id_for(self, schema_name: str, topic: str) -> int:
        key = (schema_name, topic)
        found = self._ids.get(key)
        if found is not None:
            return found
        with self._lock:
            found = self._ids.get(key)
            if found is None:
                subject = self.subject(schema_name, topic)
                schema = Schema(json.dumps(self._outputs[schema_name]), "AVRO")
                try:
                    found = self._client.register_schema(subject, schema)
                except Exception as exc:
                    if is_unavailable(exc):
                        raise RegistryUnavailable(f"schema registry: {exc}") from exc
                    raise RegistrationRefused(subject, str(exc)) from exc
                self._ids[key] = found
        return found


class RegistrationRefused(Exception):
    """The registry refused a schema (incompatible with the subject's versions, or invalid)."""

    def __init__(self, subject: str, explanation: str) -> None:
        super().__init__(f"the registry refused the schema for subject {subject}: {explanation}")
        self.subject = subject
        self.explanation = explanation


class FramedReader:
    """Reads Confluent-framed Avro records (the outputs, for ``audit`` and tooling) by schema id."""

    def __init__(self, client: SchemaRegistryClient) -> None:
        self._client = client
        self._parsed: dict[int, Any] = {}

    def read(self, value: bytes) -> dict[str, Any]:
        if len(value) < CONFLUENT_HEADER_SIZE or not value.startswith(CONFLUENT_MAGIC):
            raise ValueError("not a Confluent-framed value")
        schema_id = int.from_bytes(value[1:CONFLUENT_HEADER_SIZE], "big")
        parsed = self._parsed.get(schema_id)
        if parsed is None:
            try:
                schema = self._client.get_schema(schema_id)
            except Exception as exc:
                if is_unavailable(exc):
                    raise RegistryUnavailable(f"schema registry: {exc}") from exc
                raise
            parsed = self._parsed[schema_id] = fastavro.parse_schema(
                without_logical_types(json.loads(schema.schema_str or "")), _write_hint=False
            )
        record = fastavro.schemaless_reader(io.BytesIO(value[CONFLUENT_HEADER_SIZE:]), parsed, None)
        if not isinstance(record, dict):
            raise ValueError("the framed value is not an Avro record")
        return record
