"""Offset-commit metadata: ties a committed input offset to the Redis state that goes with it.

Each transaction commits, per input partition, the next offset to read plus this metadata
(``send_offsets_to_transaction`` stores it atomically with the outputs):

- ``g``: the generation of the partition's reorder-buffer state in Redis that this commit
  matches. On assignment the processor undoes any newer generation (an aborted transaction's).
- ``lo``: the lowest input offset still held in the reorder buffer (or the committed offset when
  the buffer is empty). If Redis lost its data, the processor can seek back there and rebuild.
- ``n``: how many events the buffer held. A rebuild re-emits every input of ``[lo, offset)``; all
  but these ``n`` had been emitted already, which is how the duplicates it lets through are counted.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson

_VERSION = 1


@dataclass(frozen=True, slots=True)
class CommitMetadata:
    generation: int
    low_offset: int
    held: int = 0

    def encode(self) -> str:
        return orjson.dumps({"v": _VERSION, "g": self.generation, "lo": self.low_offset, "n": self.held}).decode()

    @classmethod
    def decode(cls, text: str | None) -> CommitMetadata | None:
        """None when there is no metadata (a fresh group, or a commit this processor did not make)."""
        if not text:
            return None
        try:
            data = orjson.loads(text)
            generation, low, held = data["g"], data["lo"], data.get("n", 0)
        except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError):
            return None
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (generation, low, held)):
            return None
        return cls(generation=generation, low_offset=low, held=held)
