"""The fault mix: which kinds of bad input a simulated stream contains, and how much of each.

Each kind is named after what goes wrong on the wire, and each has a ground truth: what the
processor must do with such a message. Most become a quarantine record with a specific stage and
error code (the codes the decoder and validator use); ``duplicate`` is dropped and counted,
``late`` is flagged or quarantined by its type's late policy, and ``out_of_order`` must come out
valid, in the right order. Rates are shares of all messages in the stream.

``--faults`` on the command line takes ``none``, ``default``, or ``kind=rate`` pairs separated by
commas, optionally after a base: ``default,late=0.05`` or ``dup=0.05,ooo=0.1``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, ClassVar

DUPLICATE = "duplicate"
OUT_OF_ORDER = "out_of_order"
LATE = "late"

#: Every fault kind, in the order a summary lists them.
FAULT_KINDS: tuple[str, ...] = (
    "duplicate",
    "out_of_order",
    "late",
    "malformed_json",
    "corrupt_bytes",
    "not_an_object",
    "deep_nesting",
    "oversized",
    "tombstone",
    "missing_envelope",
    "unknown_type",
    "wrong_type",
    "out_of_range",
    "non_finite",
    "avro_unknown_fingerprint",
    "avro_truncated",
)

#: (stage, error_code) the processor must quarantine each kind with. ``out_of_range`` may also
#: be ``(semantic, bad_format)`` (a malformed sha256); the corruption itself says which.
QUARANTINE_TRUTH: Mapping[str, tuple[str, str]] = {
    "tombstone": ("decode", "tombstone"),
    "oversized": ("decode", "oversized"),
    "corrupt_bytes": ("decode", "invalid_utf8"),
    "malformed_json": ("decode", "invalid_json"),
    "not_an_object": ("decode", "not_an_object"),
    "deep_nesting": ("decode", "too_deeply_nested"),
    "non_finite": ("decode", "non_finite_number"),
    "avro_unknown_fingerprint": ("decode", "unknown_schema_fingerprint"),
    "avro_truncated": ("decode", "avro_truncated"),
    "missing_envelope": ("schema", "missing_envelope_field"),
    "unknown_type": ("schema", "unknown_event_type"),
    "wrong_type": ("schema", "wrong_type"),
    "out_of_range": ("semantic", "out_of_range"),
}

#: Kinds that only make sense for some event types (others: every type).
#: ``out_of_order`` needs an entity with several events; ``out_of_range`` a numeric range check
#: or a format check (jira_ticket_created has neither kind of numeric field).
KIND_TYPES: Mapping[str, frozenset[str]] = {
    "out_of_order": frozenset({"document_uploaded"}),
    "out_of_range": frozenset({"user_signed_up", "document_uploaded"}),
}

_ALIASES = {
    "dup": "duplicate",
    "dups": "duplicate",
    "ooo": "out_of_order",
    "reorder": "out_of_order",
    "malformed": "malformed_json",
    "bad_json": "malformed_json",
    "corrupt": "corrupt_bytes",
    "non_object": "not_an_object",
    "deep": "deep_nesting",
    "huge": "oversized",
    "null": "tombstone",
    "missing": "missing_envelope",
    "unknown": "unknown_type",
    "type": "wrong_type",
    "range": "out_of_range",
    "nan": "non_finite",
    "avro_fingerprint": "avro_unknown_fingerprint",
    "unknown_fingerprint": "avro_unknown_fingerprint",
    "truncated": "avro_truncated",
    "avro": "avro_share",
}


@dataclass(frozen=True, slots=True)
class FaultMix:
    """Rates per fault kind (share of all messages), plus the Avro share of good events.

    ``avro_share`` is not a fault: that share of the events that keep a readable record (clean,
    late, out of order, out of range) is sent as Avro single-object instead of JSON.

    ``late_warmup``: no ``late`` fault among the first N messages (at most half the stream), the
    rate being raised after it to keep the overall share. An event can only be late against a
    watermark, and a partition has none until it has released a batch. A consumer catching up on
    a backlog takes one partition's messages at a time, so at the processor's defaults (batches of
    1,000, 6 partitions) a partition's first batch can reach about 6,000 messages into the stream;
    8,000 leaves a margin. In streams shorter than twice that, lateness near the start depends on
    how the consumer happens to batch.
    """

    duplicate: float = 0.0
    out_of_order: float = 0.0
    late: float = 0.0
    malformed_json: float = 0.0
    corrupt_bytes: float = 0.0
    not_an_object: float = 0.0
    deep_nesting: float = 0.0
    oversized: float = 0.0
    tombstone: float = 0.0
    missing_envelope: float = 0.0
    unknown_type: float = 0.0
    wrong_type: float = 0.0
    out_of_range: float = 0.0
    non_finite: float = 0.0
    avro_unknown_fingerprint: float = 0.0
    avro_truncated: float = 0.0
    avro_share: float = 0.0
    late_warmup: int = 8_000

    _NAMES: ClassVar[tuple[str, ...]] = (*FAULT_KINDS, "avro_share", "late_warmup")

    def __post_init__(self) -> None:
        for name in (*FAULT_KINDS, "avro_share"):
            rate = getattr(self, name)
            if not isinstance(rate, int | float) or isinstance(rate, bool) or not 0.0 <= rate <= 1.0:
                raise ValueError(f"fault rate {name}={rate!r} must be a number between 0 and 1")
        if not isinstance(self.late_warmup, int) or self.late_warmup < 0:
            raise ValueError(f"late_warmup={self.late_warmup!r} must be a whole number >= 0")
        if self.total > 1.0 + 1e-9:
            raise ValueError(f"fault rates add up to {self.total:.3f}; at most 1 (every message faulty)")

    @classmethod
    def none(cls) -> FaultMix:
        """Clean traffic: every message valid, all JSON. For training data."""
        return cls()

    @classmethod
    def default(cls) -> FaultMix:
        """The demo's mix: a bad day in production, about 15% of messages with something wrong."""
        return cls(
            duplicate=0.05,
            out_of_order=0.04,
            late=0.01,
            malformed_json=0.005,
            corrupt_bytes=0.003,
            not_an_object=0.002,
            deep_nesting=0.001,
            oversized=0.001,
            tombstone=0.002,
            missing_envelope=0.004,
            unknown_type=0.003,
            wrong_type=0.005,
            out_of_range=0.005,
            non_finite=0.002,
            avro_unknown_fingerprint=0.002,
            avro_truncated=0.002,
            avro_share=0.25,
        )

    @classmethod
    def parse(cls, spec: str | None) -> FaultMix:
        """``None``/``""``/``default``, ``none``, or ``[base,]kind=rate,...`` (aliases such as ``dup``, ``ooo``).

        Raises ``ValueError`` naming the bad part and the valid kinds.
        """
        if spec is None or not spec.strip():
            return cls.default()
        parts = [p.strip() for p in spec.split(",") if p.strip()]
        base = cls.none()
        if parts and "=" not in parts[0]:
            head = parts.pop(0).lower()
            if head == "default":
                base = cls.default()
            elif head != "none":
                raise ValueError(f"fault mix {spec!r}: {head!r} is not 'none', 'default' or kind=rate")
        updates: dict[str, Any] = {}
        for part in parts:
            name, sep, raw = part.partition("=")
            name = name.strip().lower().replace("-", "_")
            name = _ALIASES.get(name, name)
            if not sep or name not in cls._NAMES:
                raise ValueError(f"fault mix {spec!r}: {part!r} is not kind=rate; kinds: {', '.join(cls._NAMES)}")
            try:
                updates[name] = int(raw) if name == "late_warmup" else float(raw)
            except ValueError:
                raise ValueError(f"fault mix {spec!r}: {raw.strip()!r} is not a number (in {part!r})") from None
        return replace(base, **updates)

    @property
    def total(self) -> float:
        """Share of messages with any fault."""
        return float(sum(getattr(self, name) for name in FAULT_KINDS))

    def rates(self) -> dict[str, float]:
        """Non-zero fault rates by kind."""
        return {name: getattr(self, name) for name in FAULT_KINDS if getattr(self, name) > 0}

    def as_dict(self) -> dict[str, float | int]:
        return {k: v for k, v in asdict(self).items() if k in self._NAMES}

    def __str__(self) -> str:
        """A spec string ``parse`` reads back to an equal mix."""
        defaults = {f.name: f.default for f in fields(self)}
        parts = [f"{name}={getattr(self, name):g}" for name in self._NAMES if getattr(self, name) != defaults[name]]
        return ",".join(["none", *parts])
