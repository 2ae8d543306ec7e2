"""Logging set-up: one JSON object per line (or readable text), with structured fields, never
payloads or secrets.

A log call names *where* something happened, not *what the data was*: ``extra=`` carries
``event_id``, ``topic``, ``partition``, ``offset``, ``model_version``, ``event_type``, ``stage``,
``error_code``... Both formatters run every extra through ``_clean``, the last line of defence:
bytes are replaced by their length, fields named like a payload (``value``, ``payload``,
``record``, ``headers``...) are withheld, ``SecretStr`` and keys named like a secret (``password``,
``secret``, ``token``...) are masked, at any depth. Message text is the caller's: put data in
``extra``, where it is cleaned, not in the format string.

A record with a ``rate_limit_key`` extra is rate-limited per key (a producer that sends garbage
must not turn into a gigabyte of identical quarantine lines); the next line let through for the
key says how many were ``suppressed``.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import IO, Any, Literal

from pydantic import BaseModel, SecretStr

from processor.messages import Rejected

LogFormat = Literal["json", "text"]

MASK = "**********"
WITHHELD = "[withheld: payload]"
#: Attributes every LogRecord has: anything else on a record came from ``extra=``.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime", "taskName"}
#: Extras that would carry the event's contents: logs point at the input (topic, partition,
#: offset, event_id), ``processor quarantine show`` shows the bytes to whoever may see them.
_PAYLOAD_KEYS = frozenset({"value", "payload", "record", "body", "headers", "raw", "data", "content", "features"})
_SECRET_KEY = re.compile(r"password|passwd|secret|token|api[_-]?key|credential|private[_-]?key", re.IGNORECASE)
_MAX_DEPTH = 8


class _Cleaned(dict[str, Any]):
    """A mapping already cleaned by its own rules (the settings): the formatter passes it through."""


def _clean(key: str, value: Any, depth: int = 0, withhold: frozenset[str] = _PAYLOAD_KEYS) -> Any:
    """A JSON-safe copy of ``value`` with payloads (keys in ``withhold``) withheld and secrets masked."""
    if isinstance(value, _Cleaned):
        return dict(value)
    if isinstance(value, SecretStr):
        return MASK
    if key.lower() in withhold:
        return WITHHELD
    if _SECRET_KEY.search(key) and value not in (None, "", {}, []):
        # a mapping of secrets (reviewers -> hashes, clients -> tokens) keeps its keys: who, not what
        if isinstance(value, Mapping):
            return {str(k): MASK for k in value}
        return MASK
    if isinstance(value, bytes | bytearray | memoryview):
        return f"<{len(value)} bytes>"
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if depth >= _MAX_DEPTH:
        return "[nested too deep]"
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    if isinstance(value, Mapping):
        return {str(k): _clean(str(k), v, depth + 1, withhold) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_clean("", v, depth + 1, withhold) for v in value]
    return str(value)


def extras(record: logging.LogRecord) -> dict[str, Any]:
    """The structured fields a log call passed with ``extra=``, cleaned."""
    return {
        key: _clean(key, value)
        for key, value in vars(record).items()
        if key not in _STANDARD and key != "rate_limit_key" and not key.startswith("_")
    }


def masked_settings(settings: BaseModel) -> dict[str, Any]:
    """The settings as a JSON-safe mapping fit for a log line: secrets masked, even ones typed as
    plain strings by mistake (a password in ``kafka.extra``). Settings hold no event payloads, so
    nothing is withheld by name: ``topics.raw`` is the raw topic's name, the setting a user most
    wants to check at start-up."""
    cleaned = _clean("settings", settings, withhold=frozenset())
    assert isinstance(cleaned, dict)
    return _Cleaned(cleaned)


class JsonFormatter(logging.Formatter):
    """``{"ts", "level", "logger", "message", ...extras, "exception"?}``, one object per line."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in extras(record).items():
            entry.setdefault(key, value)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str, allow_nan=False)


class TextFormatter(logging.Formatter):
    """The classic line, with the structured fields appended as ``key=value``."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def formatMessage(self, record: logging.LogRecord) -> str:
        line = super().formatMessage(record)
        fields = extras(record)
        if not fields:
            return line
        return line + " [" + " ".join(f"{k}={_text(v)}" for k, v in fields.items()) + "]"


def _text(value: Any) -> str:
    if isinstance(value, str) and value and not re.search(r"\s|[\"=\[\]]", value):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


class RateLimitFilter(logging.Filter):
    """Lets through at most ``burst`` records per ``rate_limit_key`` per ``window_s``; counts the rest
    and reports the count as ``suppressed`` on the next record let through for that key."""

    def __init__(self, burst: int = 20, window_s: float = 60.0, clock: Any = time.monotonic) -> None:
        super().__init__()
        self.burst = burst
        self.window_s = window_s
        self._clock = clock
        self._lock = threading.Lock()
        self._windows: dict[str, list[float]] = {}  # key -> [window start, let through, suppressed]

    def filter(self, record: logging.LogRecord) -> bool:
        key = getattr(record, "rate_limit_key", None)
        if key is None:
            return True
        now = self._clock()
        with self._lock:
            state = self._windows.get(str(key))
            if state is None or now - state[0] >= self.window_s:
                suppressed = int(state[2]) if state is not None else 0
                state = [now, 0.0, 0.0]
                self._windows[str(key)] = state
                if suppressed:
                    record.suppressed = suppressed
            if state[1] >= self.burst:
                state[2] += 1
                return False
            state[1] += 1
            if len(self._windows) > 10_000:  # keys come from bounded sets; this is a backstop
                self._windows = {str(key): state}
            return True


def configure_logging(level: str, fmt: LogFormat, stream: IO[str] | None = None) -> logging.Handler:
    """Replace the root handlers with one writing ``fmt`` to ``stream`` (stderr by default)."""
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(RateLimitFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    return handler


def log_quarantined(logger: logging.Logger, rejected: Rejected) -> None:
    """One line per quarantined input: where it is and why (stage, code, field), never what it held.

    The bytes, and the error message (which may quote a value), are on the quarantine topic for
    ``processor quarantine show``. Rate-limited per stage and code.
    """
    error = rejected.reason
    raw = rejected.raw
    logger.info(
        "quarantined %s/%s",
        error.stage,
        error.code,
        extra=input_fields(
            raw.topic,
            raw.partition,
            raw.offset,
            event_id=error.event_id,
            event_type=error.event_type,
            stage=error.stage,
            error_code=error.code,
            field=error.field,
            rate_limit_key=f"quarantine:{error.stage}:{error.code}",
        ),
    )


def input_fields(topic: str, partition: int, offset: int, **more: Any) -> dict[str, Any]:
    """The ``extra=`` of a log line about one input record: where it is, never what it holds."""
    return {
        "topic": topic,
        "partition": partition,
        "offset": offset,
        **{k: v for k, v in more.items() if v is not None},
    }
