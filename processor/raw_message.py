"""The Kafka record as consumed: the leaf type that errors, stages and quarantine all carry.

It sits apart from processor.messages so that an error can name the record it came from without
processor.errors and processor.messages importing each other (docs/design.md §10).
"""

from __future__ import annotations

from dataclasses import dataclass

Headers = tuple[tuple[str, bytes | None], ...]


@dataclass(frozen=True, slots=True)
class RawMessage:
    """A Kafka record exactly as consumed. Quarantine forwards these bytes unchanged."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Headers = ()
    timestamp_ms: int | None = None

    @property
    def position(self) -> str:
        """``topic:partition:offset``: names this input record uniquely (used as the dedupe mark)."""
        return f"{self.topic}:{self.partition}:{self.offset}"
