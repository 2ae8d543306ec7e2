"""How each quarantining fault breaks a valid event, and exactly what the processor must say.

Every variant here mimics a real producer bug (a truncated write, a Latin-1 client, a Python
``repr`` sent as JSON, a batch API that wraps events in an array, Jira Cloud's document-format
description...) and is built so the processor's answer is certain: the stage and error code in
the result are the ones ``processor.stages.decode`` and ``processor.stages.validate`` produce,
checked by the unit tests against the real decoder and validator.

Two details of diagnosis shape the variants. Unparsable text that mentions ``NaN`` or
``Infinity`` as a bare word could be read as a non-finite literal, so malformed JSON never
contains one (not even inside a string); and ``invalid_utf8`` is checked before anything else,
so truncated text is cut on a character boundary.
"""

from __future__ import annotations

import random
import re
import zlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import orjson

from processor.devtools.simulate.encoding import AVRO_HEADERS, JSON_HEADERS, AvroEncoder, to_json
from processor.devtools.simulate.faults import QUARANTINE_TRUTH
from processor.devtools.simulate.generators import GeneratedEvent
from processor.messages import Headers

# Mirrors the decoder's diagnosis of NaN / Infinity literals (see the module docstring).
_NON_FINITE_WORD = re.compile(rb"(?<![\"\w])-?(NaN|Infinity)(?![\"\w])")
_PLACEHOLDER = "\x00simulated-placeholder\x00"

_UNKNOWN_TYPES = (
    "user_logged_in",
    "document_deleted",
    "jira_issue_updated",
    "payment_captured",
    "UserSignedUp",
    "user_signed_up_v2",
    "document-uploaded",
)
_LOG_LINE = (
    "2026-11-28 20:31:07,412 WARN org.apache.hadoop.ipc.Client: Retrying connect to server: "
    "nn1.example.internal/10.20.30.40:8020. Already tried 7 time(s); retry policy is "
    "RetryUpToMaximumCountWithFixedSleep(maxRetries=10, sleepTime=1000 MILLISECONDS) | "
)


@dataclass(frozen=True, slots=True)
class Corruption:
    """A broken message value and the quarantine the processor must produce for it."""

    value: bytes | None
    headers: Headers
    event_id: str | None  # the id the processor can attribute the message to (None: unreadable)
    stage: str
    code: str
    encoding: str  # json | avro | bytes | none
    as_json: bytes | None  # the value as one line of JSON, when it is JSON at all
    variant: str  # which flavour of the fault, for the manifest


class Corruptor:
    """Applies a quarantining fault kind to a valid event."""

    def __init__(self, avro: AvroEncoder, *, max_message_bytes: int = 1_000_000) -> None:
        self._avro = avro
        self._max_bytes = max_message_bytes
        self._kinds: dict[str, Callable[[GeneratedEvent, random.Random, bool], Corruption]] = {
            "tombstone": self._tombstone,
            "oversized": self._oversized,
            "corrupt_bytes": self._corrupt_bytes,
            "malformed_json": self._malformed_json,
            "not_an_object": self._not_an_object,
            "deep_nesting": self._deep_nesting,
            "non_finite": self._non_finite,
            "avro_unknown_fingerprint": self._avro_unknown_fingerprint,
            "avro_truncated": self._avro_truncated,
            "missing_envelope": self._missing_envelope,
            "unknown_type": self._unknown_type,
            "wrong_type": self._wrong_type,
            "out_of_range": self._out_of_range,
        }

    @property
    def kinds(self) -> frozenset[str]:
        return frozenset(self._kinds)

    def apply(self, kind: str, event: GeneratedEvent, rng: random.Random, *, avro: bool = False) -> Corruption:
        """Break ``event`` the ``kind`` way. ``avro`` applies to kinds whose record stays readable."""
        return self._kinds[kind](event, rng, avro)

    # -- helpers -------------------------------------------------------------------------------

    @staticmethod
    def _json(
        kind: str, value: bytes, variant: str, *, event_id: str | None = None, code: str | None = None
    ) -> Corruption:
        stage, default_code = QUARANTINE_TRUTH[kind]
        return Corruption(
            value=value,
            headers=JSON_HEADERS,
            event_id=event_id,
            stage=stage,
            code=code or default_code,
            encoding="json",
            as_json=value if _is_json(value) else None,
            variant=variant,
        )

    # -- decode stage --------------------------------------------------------------------------

    def _tombstone(self, event: GeneratedEvent, rng: random.Random, avro: bool) -> Corruption:
        stage, code = QUARANTINE_TRUTH["tombstone"]
        return Corruption(None, (), None, stage, code, "none", None, "null_value")

    def _oversized(self, event: GeneratedEvent, rng: random.Random, avro: bool) -> Corruption:
        # Someone pastes a whole log into a free-text field; the producer does not check size.
        field = {"jira_ticket_created": "description", "document_uploaded": "status_reason"}.get(
            event.event_type, "user_agent"
        )
        record = dict(event.record)
        record[field] = ""
        base = len(to_json(record))
        target = self._max_bytes + rng.randint(1_024, 65_536)
        repeats = (target - base) // len(_LOG_LINE) + 1
        record[field] = _LOG_LINE * repeats
        return self._json("oversized", to_json(record), f"huge_{field}")

    def _corrupt_bytes(self, event: GeneratedEvent, rng: random.Random, avro: bool) -> Corruption:
        text = to_json(event.record)
        roll = rng.random()
        if roll < 0.3:
            # Random bytes; the first is a UTF-8 continuation byte, invalid at the start of text
            # and neither the Avro (C3 01) nor the Confluent (00) magic.
            value = bytes([rng.randint(0x80, 0xBF)]) + rng.randbytes(rng.randint(15, 600))
            variant = "random_bytes"
        elif roll < 0.5:
            value = text.decode("utf-8").encode("utf-16")  # a Windows client; starts with the FF FE BOM
            variant = "utf16"
        elif roll < 0.75 and not text.isascii() and _latin1(text) is not None:
            value = _latin1(text) or b""
            variant = "latin1"
        else:
            value = _flip_high_bit(text, rng)
            variant = "bit_flip"
        if _is_utf8(value):  # cannot happen for the variants above; keep the truth honest anyway
            value, variant = _flip_high_bit(text, rng), "bit_flip"
        stage, code = QUARANTINE_TRUTH["corrupt_bytes"]
        return Corruption(value, JSON_HEADERS, None, stage, code, "bytes", None, variant)

    def _malformed_json(self, event: GeneratedEvent, rng: random.Random, avro: bool) -> Corruption:
        text = to_json(event.record)
        roll = rng.random()
        if roll < 0.45:
            value, variant = _truncate_text(text, rng), "truncated"
        elif roll < 0.6:
            value, variant = repr(event.record).encode("utf-8"), "python_repr"
        elif roll < 0.7:
            value, variant = text[:-1] + b",}", "trailing_comma"
        elif roll < 0.8:
            value, variant = text + text, "concatenated"
        elif roll < 0.9:
            value, variant = text.replace(b'"event_id"', b"event_id", 1), "unquoted_key"
        else:
            value, variant = text.replace(b"\\n", b"\n"), "raw_newline"
            if value == text:
                value, variant = text.replace(b'":', b"'=", 1), "bad_separator"
        if _NON_FINITE_WORD.search(value) or _is_json(value):
            value, variant = _truncate_text(text, rng), "truncated"
        return self._json("malformed_json", value, variant)

    def _not_an_object(self, event: GeneratedEvent, rng: random.Random, avro: bool) -> Corruption:
        text = to_json(event.record)
        roll = rng.random()
        if roll < 0.4:
            value, variant = b"[" + text + b"]", "array_of_events"  # a batch API's habit
        elif roll < 0.7:
            value, variant = orjson.dumps(text.decode("utf-8")), "double_encoded"
        elif roll < 0.85:
            value, variant = str(event.occurred_at).encode(), "number"
        else:
            value, variant = rng.choice((b"null", b"true", b'"ping"', b"[]", b'""')), "scalar"
        return self._json("not_an_object", value, variant)

    def _deep_nesting(self, event: GeneratedEvent, rng: random.Random, avro: bool) -> Corruption:
        # A serializer following a parent/child cycle until it gives up. Sometimes deeper than
        # orjson's own limit (1,024 levels), which the decoder must diagnose the same way.
        depth = rng.randint(100, 900) if rng.random() < 0.8 else rng.randint(1_100, 5_000)
        text = to_json(event.record)
        nested = b'{"parent":' * depth + b"{}" + b"}" * depth
        value = text[:-1] + b',"context":' + nested + b"}"
        # Valid JSON text even where a parser's depth limit refuses it: it belongs in a JSONL file.
        return replace(self._json("deep_nesting", value, f"depth_{depth}"), as_json=value)

    def _non_finite(self, event: GeneratedEvent, rng: random.Random, avro: bool) -> Corruption:
        # Python's json.dumps writes NaN and Infinity unless told not to; JSON has neither.
        field = rng.choice(
            {
                "user_signed_up": ("age_years", "signup_duration_ms"),
                "document_uploaded": ("size_bytes", "page_count"),
            }.get(event.event_type, ("sequence",))
        )
        literal = rng.choice((b"NaN", b"Infinity", b"-Infinity"))
        record = dict(event.record)
        record[field] = _PLACEHOLDER
        value = to_json(record).replace(orjson.dumps(_PLACEHOLDER), literal, 1)
        return self._json("non_finite", value, f"{field}={literal.decode()}")

    def _avro_unknown_fingerprint(self, event: GeneratedEvent, rng: random.Random, avro: bool) -> Corruption:
        stage, code = QUARANTINE_TRUTH["avro_unknown_fingerprint"]
        value = self._avro.encode_unregistered(event.record)
        return Corruption(value, AVRO_HEADERS, None, stage, code, "avro", None, "next_schema_version")

    def _avro_truncated(self, event: GeneratedEvent, rng: random.Random, avro: bool) -> Corruption:
        full = self._avro.encode(event.record)
        if rng.random() < 0.1:  # keep the 2-byte magic, or it is not recognisable as Avro at all
            cut, variant = rng.randint(2, 9), "header"
        else:
            cut, variant = rng.choice(self._avro.truncation_points(event.record)), "payload"
        stage, code = QUARANTINE_TRUTH["avro_truncated"]
        return Corruption(full[:cut], AVRO_HEADERS, None, stage, code, "avro", None, f"{variant}_{cut}_of_{len(full)}")

    # -- schema stage --------------------------------------------------------------------------

    def _missing_envelope(self, event: GeneratedEvent, rng: random.Random, avro: bool) -> Corruption:
        field = rng.choice(("event_id", "event_id", "entity_id", "occurred_at", "event_type"))
        record = dict(event.record)
        if rng.random() < 0.3:
            record[field] = None
            variant = f"null_{field}"
        else:
            del record[field]
            variant = f"no_{field}"
        event_id = None if field == "event_id" else event.event_id
        return self._json("missing_envelope", to_json(record), variant, event_id=event_id)

    def _unknown_type(self, event: GeneratedEvent, rng: random.Random, avro: bool) -> Corruption:
        record = dict(event.record)
        record["event_type"] = rng.choice(_UNKNOWN_TYPES)
        return self._json("unknown_type", to_json(record), str(record["event_type"]), event_id=event.event_id)

    def _wrong_type(self, event: GeneratedEvent, rng: random.Random, avro: bool) -> Corruption:
        record = dict(event.record)
        field, value = rng.choice(_WRONG_TYPES[event.event_type])(record)
        record[field] = value
        return self._json("wrong_type", to_json(record), f"{field}={_short(value)}", event_id=event.event_id)

    # -- semantic stage ------------------------------------------------------------------------

    def _out_of_range(self, event: GeneratedEvent, rng: random.Random, avro: bool) -> Corruption:
        record = dict(event.record)
        field, value, code = rng.choice(_OUT_OF_RANGE[event.event_type])(record, rng)
        record[field] = value
        stage = QUARANTINE_TRUTH["out_of_range"][0]
        variant = f"{field}={_short(value)}"
        if avro:
            encoded = self._avro.encode(record)
            return Corruption(encoded, AVRO_HEADERS, event.event_id, stage, code, "avro", to_json(record), variant)
        return self._json("out_of_range", to_json(record), variant, event_id=event.event_id, code=code)


# Each entry picks (field, bad value) from the record. Strict types reject any mismatch; the
# tolerant user_signed_up coerces "42" to 42, so its entries are values no coercion can save.
_Wrong = Callable[[dict[str, Any]], tuple[str, Any]]
_WRONG_TYPES: dict[str, tuple[_Wrong, ...]] = {
    "document_uploaded": (
        lambda r: ("size_bytes", "abc"),
        lambda r: ("size_bytes", str(r["size_bytes"])),
        lambda r: ("size_bytes", r["size_bytes"] + 0.5),
        lambda r: ("page_count", "3"),
        lambda r: ("sha256", int(r["sha256"][:12], 16)),
        lambda r: ("upload_status", True),
        lambda r: ("file_name", [r["file_name"]]),
        lambda r: ("mime_type", None),
        lambda r: ("sequence", str(r["sequence"])),
        lambda r: ("entity_id", zlib.crc32(r["entity_id"].encode())),  # a numeric account id
    ),
    "jira_ticket_created": (
        lambda r: ("issue_id", int(r["issue_id"])),  # Jira's REST id is a string; sloppy relays send a number
        lambda r: ("priority", {"name": r["priority"], "id": "3"}),  # the raw webhook shape
        lambda r: ("labels", "flaky-test"),
        lambda r: ("affects_versions", ", ".join(r["affects_versions"]) or "3.4.0"),
        lambda r: ("created", "30/Sep/21 17:20"),
        lambda r: ("description", {"type": "doc", "version": 1, "content": []}),  # Atlassian Document Format
        lambda r: ("summary", None),
    ),
    "user_signed_up": (
        lambda r: ("email_verified", "yes"),
        lambda r: ("age_years", "thirty"),
        lambda r: ("signup_duration_ms", "12s"),
        lambda r: ("email", [r["email"]]),
        lambda r: ("country", {"code": r["country"]}),
        lambda r: ("device_type", None),
    ),
}

_Range = Callable[[dict[str, Any], random.Random], tuple[str, Any, str]]
_OUT_OF_RANGE: dict[str, tuple[_Range, ...]] = {
    "user_signed_up": (
        lambda r, g: ("age_years", g.choice((500, 150, 121, 7, 0, -1)), "out_of_range"),
        lambda r, g: ("signup_duration_ms", g.choice((-5, -1_200, 90_000_000, 604_800_000)), "out_of_range"),
    ),
    "document_uploaded": (
        lambda r, g: ("size_bytes", g.choice((-5, -1, 104_857_601, 5_000_000_000)), "out_of_range"),
        lambda r, g: ("page_count", g.choice((-1, -20, 100_001)), "out_of_range"),
        lambda r, g: (
            "sha256",
            g.choice((r["sha256"].upper(), r["sha256"][:63], "sha256:" + r["sha256"], r["sha256"][:32])),
            "bad_format",
        ),
    ),
}


def _is_json(value: bytes) -> bool:
    try:
        orjson.loads(value)
    except orjson.JSONDecodeError:
        return False
    return True


def _is_utf8(value: bytes) -> bool:
    try:
        value.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _latin1(text: bytes) -> bytes | None:
    try:
        return text.decode("utf-8").encode("latin-1")
    except UnicodeEncodeError:
        return None


def _flip_high_bit(text: bytes, rng: random.Random) -> bytes:
    """Set the high bit of one ASCII byte between ASCII neighbours: a lone non-ASCII byte is never UTF-8."""
    limit = min(len(text) - 1, 64)  # the envelope comes first and is ASCII
    candidates = [i for i in range(1, limit) if text[i - 1] < 0x80 and text[i] < 0x80 and text[i + 1] < 0x80]
    i = rng.choice(candidates)
    return text[:i] + bytes([text[i] | 0x80]) + text[i + 1 :]


def _truncate_text(text: bytes, rng: random.Random) -> bytes:
    """A proper prefix of the JSON text (never valid JSON), cut on a character boundary."""
    limit = len(text) - 1
    match = _NON_FINITE_WORD.search(text)
    if match is not None:
        limit = min(limit, match.start())
    cut = rng.randint(1, max(1, limit))
    while cut > 1 and (text[cut] & 0xC0) == 0x80:  # inside a multi-byte character: step back
        cut -= 1
    return text[:cut]


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
