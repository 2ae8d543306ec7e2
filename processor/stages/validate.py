"""validate: a record against its Avro schema, then semantic checks.

JSON records are checked field by field against the writer schema they name (``schema_version``,
latest when absent) and then projected onto the latest version, so later stages see one shape.
Avro records were already resolved to the latest schema by the decoder; they only get the
semantic checks. The per-type policy decides strict (reject) or tolerant (fill defaults, coerce
``"42"`` to ``42``, drop unknown fields); every coercion is recorded on the event.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from processor.config import EventTypeConfig, FieldCheck, PipelinesConfig, ProcessingSettings
from processor.envelope import rfc3339_ms
from processor.errors import ProcessorError, SchemaError, SemanticError, unexpected
from processor.messages import Event, Rejected
from processor.serializers.schemas import InputSchema, SchemaStore

_INT_RANGE = {"int": (-(2**31), 2**31 - 1), "long": (-(2**63), 2**63 - 1)}
_EARLIEST_EVENT_MS = 946_684_800_000  # 2000-01-01T00:00:00Z: anything older is a unit or clock error
_MISSING = object()


class Validator:
    def __init__(self, schemas: SchemaStore, pipelines: PipelinesConfig, settings: ProcessingSettings) -> None:
        self._schemas = schemas
        self._pipelines = pipelines
        self._max_future_skew_ms = settings.max_future_skew_ms
        self._checks: dict[str, list[_CompiledCheck]] = {
            name: [_CompiledCheck(c) for c in cfg.checks] for name, cfg in pipelines.event_types.items()
        }

    def validate_batch(self, events: Iterable[Event], now_ms: int | None = None) -> tuple[list[Event], list[Rejected]]:
        now_ms = int(time.time() * 1000) if now_ms is None else now_ms
        ok: list[Event] = []
        rejected: list[Rejected] = []
        for event in events:
            try:
                ok.append(self.validate(event, now_ms))
            except ProcessorError as exc:
                exc.raw = event.raw
                exc.event_type = event.event_type
                exc.event_id = event.event_id
                rejected.append(Rejected(event.raw, exc.reason()))  # the stage boundary: a value from here on
            except Exception as exc:  # a validator bug must cost one event, not the partition
                error = unexpected(exc, event.raw, event.event_type, event.event_id)
                rejected.append(Rejected(event.raw, error.reason()))
        return ok, rejected

    def validate(self, event: Event, now_ms: int) -> Event:
        config = self._pipelines.event_types[event.event_type]
        schema_name = config.schema_name or event.event_type
        coercions = list(event.coercions)
        version = event.schema_version
        if event.encoding == "json":
            writer = self._schemas.get(schema_name, event.schema_version)
            if writer is None:
                raise SchemaError(
                    "unknown_schema_version",
                    f"{schema_name} has no schema version {event.schema_version}",
                    field="schema_version",
                )
            record = _check_record(event.record, writer.schema, "", config.validation == "tolerant", coercions)
            latest = self._schemas.latest(schema_name)
            if latest.version != writer.version:
                record = _project(record, latest)
            record["schema_version"] = writer.version
            version = writer.version
        else:
            record = event.record
            _check_finite(record, "")
        _check_event_time(event.occurred_at, now_ms, self._max_future_skew_ms)
        for check in self._checks[event.event_type]:
            check.apply(record)
        # the constructor, not dataclasses.replace: a tenth of this stage's time went to replace
        return Event(
            raw=event.raw,
            record=record,
            event_id=event.event_id,
            event_type=event.event_type,
            entity_id=event.entity_id,
            occurred_at=event.occurred_at,
            sequence=event.sequence,
            schema_version=version,
            encoding=event.encoding,
            late=event.late,
            coercions=tuple(coercions),
        )


def _project(record: dict[str, Any], latest: InputSchema) -> dict[str, Any]:
    """Avro schema resolution for JSON: fields the writer lacked take the reader's defaults."""
    out = {}
    for name, field in latest.fields.items():
        out[name] = record[name] if name in record else field.get("default")
    return out


def _check_event_time(occurred_at: int, now_ms: int, skew_ms: int) -> None:
    if occurred_at < _EARLIEST_EVENT_MS:
        raise SemanticError(
            "occurred_at_out_of_range",
            f"occurred_at {occurred_at} is before 2000-01-01 (seconds instead of milliseconds?)",
            field="occurred_at",
        )
    if occurred_at > now_ms + skew_ms:
        raise SemanticError(
            "occurred_at_in_future",
            f"occurred_at is {(occurred_at - now_ms) // 1000} s in the future (allowed skew {skew_ms // 1000} s)",
            field="occurred_at",
        )


# -- schema walk ---------------------------------------------------------------------------------


# The common case, checked without the general walk: a field whose value already has exactly the
# Python type its (possibly nullable) primitive schema wants. Anything else (a union of several
# types, a nested type, a value to coerce, an int out of range, a non-finite double) takes
# ``_check_value``, so the errors and coercions are the same either way.
_FAST_TYPES: dict[str, type] = {
    "string": str,
    "boolean": bool,
    "long": int,
    "int": int,
    "double": float,
    "float": float,
}


@dataclass(frozen=True, slots=True)
class _FieldPlan:
    name: str
    schema: Any
    has_default: bool
    default: Any
    fast: type | None  # the exact Python type accepted as is
    nullable: bool
    int_range: tuple[int, int] | None


#: id(schema) -> (the schema, its plan). The entry holds the schema itself: while it is cached its
#: id cannot go to another object, so a lookup by id never returns another schema's plan (a dict
#: cannot be weakly referenced, and hashing the schema's content on every record would cost more).
_PLANS: dict[int, tuple[dict[str, Any], tuple[tuple[_FieldPlan, ...], frozenset[str]]]] = {}


def _plan(schema: dict[str, Any]) -> tuple[tuple[_FieldPlan, ...], frozenset[str]]:
    """The fields of a record schema, prepared once per schema object (schemas live for the process)."""
    entry = _PLANS.get(id(schema))
    if entry is not None and entry[0] is schema:
        return entry[1]
    plans = []
    for field in schema["fields"]:
        kind = field["type"]
        nullable = False
        if isinstance(kind, list) and len(kind) == 2 and "null" in kind:
            nullable, kind = True, next(k for k in kind if k != "null")
        if isinstance(kind, dict) and set(kind) <= {"type", "logicalType"}:
            kind = kind["type"]  # e.g. timestamp-millis longs: an int passes as it is
        fast = _FAST_TYPES.get(kind) if isinstance(kind, str) else None
        plans.append(
            _FieldPlan(
                field["name"],
                field["type"],
                "default" in field,
                field.get("default"),
                fast,
                nullable,
                _INT_RANGE.get(kind) if isinstance(kind, str) else None,
            )
        )
    cached = (tuple(plans), frozenset(p.name for p in plans))
    _PLANS[id(schema)] = (schema, cached)
    return cached


def _check_record(
    value: Any, schema: dict[str, Any], path: str, tolerant: bool, coercions: list[str]
) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise SchemaError("wrong_type", f"expected an object, got {_kind(value)}", field=path or None)
    out: dict[str, Any] = {}
    plans, known = _plan(schema)
    for plan in plans:
        name = plan.name
        item = value.get(name, _MISSING)
        if item is _MISSING:
            if plan.has_default:
                out[name] = plan.default
                continue
            field_path = f"{path}.{name}" if path else name
            raise SchemaError("missing_field", f"required field {field_path} is missing", field=field_path)
        kind = type(item)
        if kind is plan.fast:
            if kind is float:
                if math.isfinite(item):
                    out[name] = item
                    continue
            elif kind is int and plan.int_range is not None:
                if plan.int_range[0] <= item <= plan.int_range[1]:
                    out[name] = item
                    continue
            else:
                out[name] = item
                continue
        elif item is None and plan.nullable:
            out[name] = None
            continue
        out[name] = _check_value(item, plan.schema, f"{path}.{name}" if path else name, tolerant, coercions)
    unknown = [k for k in value if k not in known]
    if unknown:
        if not tolerant:
            first = f"{path}.{unknown[0]}" if path else unknown[0]
            raise SchemaError(
                "unknown_field", f"field {first[:200]} is not in the schema ({len(unknown)} unknown)", field=first[:200]
            )
        coercions.extend(f"dropped:{(f'{path}.{k}' if path else k)[:100]}" for k in unknown)
    return out


def _check_value(value: Any, schema: Any, path: str, tolerant: bool, coercions: list[str]) -> Any:
    if isinstance(schema, list):  # union: the first branch that accepts the value wins
        if value is None:
            if "null" in schema:
                return None
            raise SchemaError("null_not_allowed", f"{path} must not be null", field=path)
        branches = [b for b in schema if b != "null"]
        last: SchemaError | None = None
        for branch in branches:
            try:
                return _check_value(value, branch, path, tolerant, coercions)
            except SchemaError as exc:
                last = exc
        assert last is not None
        raise last
    if isinstance(schema, dict):
        kind = schema["type"]
        if kind == "record":
            return _check_record(value, schema, path, tolerant, coercions)
        if kind == "array":
            if not isinstance(value, list):
                raise SchemaError("wrong_type", f"{path} must be an array, got {_kind(value)}", field=path)
            return [_check_value(v, schema["items"], f"{path}[{i}]", tolerant, coercions) for i, v in enumerate(value)]
        if kind == "map":
            if not isinstance(value, dict):
                raise SchemaError("wrong_type", f"{path} must be an object, got {_kind(value)}", field=path)
            return {k: _check_value(v, schema["values"], f"{path}.{k}", tolerant, coercions) for k, v in value.items()}
        if kind == "enum":
            if value not in schema["symbols"]:
                raise SchemaError("not_in_enum", f"{path} must be one of {schema['symbols']}", field=path)
            return value
        if schema.get("logicalType") == "timestamp-millis" and isinstance(value, str):
            parsed = rfc3339_ms(value)
            if parsed is None:
                raise SchemaError("wrong_type", f"{path} must be epoch milliseconds or RFC 3339", field=path)
            return parsed
        return _check_value(value, kind, path, tolerant, coercions)
    return _check_primitive(value, schema, path, tolerant, coercions)


def _check_primitive(value: Any, kind: str, path: str, tolerant: bool, coercions: list[str]) -> Any:
    if kind == "null":
        if value is not None:
            raise SchemaError("wrong_type", f"{path} must be null", field=path)
        return None
    if kind == "string":
        if isinstance(value, str):
            return value
        if tolerant and isinstance(value, int | float) and not isinstance(value, bool):
            coercions.append(path)
            return str(value)
        raise SchemaError("wrong_type", f"{path} must be a string, got {_kind(value)}", field=path)
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        if tolerant and isinstance(value, str) and value.lower() in ("true", "false"):
            coercions.append(path)
            return value.lower() == "true"
        raise SchemaError("wrong_type", f"{path} must be a boolean, got {_kind(value)}", field=path)
    if kind in ("int", "long"):
        if isinstance(value, bool):
            raise SchemaError("wrong_type", f"{path} must be an integer, got a boolean", field=path)
        if isinstance(value, float) and tolerant and value.is_integer():
            coercions.append(path)
            value = int(value)
        elif isinstance(value, str) and tolerant and re.fullmatch(r"-?[0-9]{1,20}", value.strip()):
            coercions.append(path)
            value = int(value.strip())
        if not isinstance(value, int):
            raise SchemaError("wrong_type", f"{path} must be an integer, got {_kind(value)}", field=path)
        low, high = _INT_RANGE[kind]
        if not low <= value <= high:
            raise SchemaError("integer_overflow", f"{path} does not fit an Avro {kind}", field=path)
        return value
    if kind in ("float", "double"):
        if isinstance(value, bool):
            raise SchemaError("wrong_type", f"{path} must be a number, got a boolean", field=path)
        if isinstance(value, str) and tolerant:
            try:
                value = float(value)
            except ValueError:
                raise SchemaError("wrong_type", f"{path} must be a number, got a string", field=path) from None
            coercions.append(path)
        if not isinstance(value, int | float):
            raise SchemaError("wrong_type", f"{path} must be a number, got {_kind(value)}", field=path)
        if not math.isfinite(value):
            raise SemanticError("non_finite_number", f"{path} is NaN or infinite", field=path)
        return float(value)
    if kind == "bytes":
        if isinstance(value, str):  # Avro's JSON encoding of bytes is a string
            return value.encode("latin-1", errors="replace")
        raise SchemaError("wrong_type", f"{path} must be bytes (a string in JSON), got {_kind(value)}", field=path)
    raise SchemaError("unsupported_schema_type", f"{path}: schema type {kind!r} is not supported", field=path)


def _check_finite(value: Any, path: str) -> None:
    """Avro doubles can carry NaN and infinities, which no model or downstream system should see."""
    if isinstance(value, float):
        if not math.isfinite(value):
            raise SemanticError("non_finite_number", f"{path} is NaN or infinite", field=path)
    elif isinstance(value, dict):
        for k, v in value.items():
            _check_finite(v, f"{path}.{k}" if path else k)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _check_finite(v, f"{path}[{i}]")


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}.get(
        type(value), f"a {type(value).__name__}"
    )


# -- semantic checks -----------------------------------------------------------------------------


class _CompiledCheck:
    def __init__(self, check: FieldCheck) -> None:
        self.check = check
        self.pattern = re.compile(check.pattern) if check.pattern else None
        self.allowed = frozenset(check.one_of) if check.one_of is not None else None

    def apply(self, record: dict[str, Any]) -> None:
        c = self.check
        value = record.get(c.field)
        if value is None:
            return  # presence is the schema's job; checks constrain values that are there
        if isinstance(value, int | float) and not isinstance(value, bool):
            if c.min is not None and value < c.min:
                raise SemanticError("out_of_range", f"{c.field}={value} is below the minimum {c.min:g}", field=c.field)
            if c.max is not None and value > c.max:
                raise SemanticError("out_of_range", f"{c.field}={value} is above the maximum {c.max:g}", field=c.field)
        if isinstance(value, str):
            if c.max_length is not None and len(value) > c.max_length:
                raise SemanticError(
                    "too_long", f"{c.field} is {len(value)} characters, over {c.max_length}", field=c.field
                )
            if self.pattern is not None and not self.pattern.fullmatch(value):
                raise SemanticError("bad_format", f"{c.field} does not match {c.pattern}", field=c.field)
            if self.allowed is not None and value not in self.allowed:
                raise SemanticError(
                    "not_allowed_value",
                    f"{c.field}={value[:100]!r} is not one of {sorted(self.allowed)}",
                    field=c.field,
                )


def check_config_fields(name: str, config: EventTypeConfig, schema: InputSchema) -> None:
    """Start-up check: every semantic check names a field the latest schema has."""
    from processor.errors import ConfigError

    for check in config.checks:
        if check.field not in schema.fields:
            raise ConfigError(
                "unknown_check_field",
                f"event_types.{name}.checks: field {check.field!r} is not in schema {schema.name} v{schema.version}",
            )
