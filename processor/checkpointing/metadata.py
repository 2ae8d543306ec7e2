"""Offset-commit metadata: ties a committed input offset to the Redis state that goes with it.

Each transaction commits, per input partition, the next offset to read plus this metadata
(``send_offsets_to_transaction`` stores it atomically with the outputs):

- ``g``: the generation of the partition's reorder-buffer state in Redis that this commit
  matches. On assignment the processor undoes any newer generation (an aborted transaction's).
- ``lo``: the lowest input offset still held in the reorder buffer (or the committed offset when
  the buffer is empty). If Redis lost its data, the processor can seek back there and rebuild.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson

_VERSION = 1


@dataclass(frozen=True, slots=True)
class CommitMetadata:
    generation: int
    low_offset: int

    def encode(self) -> str:
        return orjson.dumps({"v": _VERSION, "g": self.generation, "lo": self.low_offset}).decode()

    @classmethod
    def decode(cls, text: str | None) -> CommitMetadata | None:
        """None when there is no metadata (a fresh group, or a commit this processor did not make)."""
        if not text:
            return None
        try:
            data = orjson.loads(text)
            generation, low = data["g"], data["lo"]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            return None
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (generation, low)):
            return None
        return cls(generation=generation, low_offset=low)
