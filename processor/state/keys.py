"""Redis key names, in one place, ready for Redis Cluster.

A partition's reorder buffer and generation are updated together by one script, so they share
the hash tag ``{<prefix>rb:<topic>:<partition>}`` and live in one slot. Dedupe marks and entity
history need no atomic neighbours; they spread across slots and are written with pipelines.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Keys:
    prefix: str

    def dedupe(self, event_id: str) -> str:
        return f"{self.prefix}d:{event_id}"

    def history(self, event_type: str, key_field: str, key_value: str) -> str:
        """One sorted set per event type, key field and value, shared by the counters on that field."""
        return f"{self.prefix}h:{event_type}:{key_field}:{key_value}"

    def killswitch(self, scope: str) -> str:
        """``global``, or an event type."""
        return f"{self.prefix}killswitch:global" if scope == "global" else f"{self.prefix}killswitch:type:{scope}"

    def partition_tag(self, topic: str, partition: int) -> str:
        return f"{{{self.prefix}rb:{topic}:{partition}}}"

    def buffer_state(self, topic: str, partition: int) -> str:
        return f"{self.partition_tag(topic, partition)}:state"

    def buffer_items(self, topic: str, partition: int) -> str:
        return f"{self.partition_tag(topic, partition)}:items"

    def buffer_undo(self, topic: str, partition: int, generation: int) -> str:
        return f"{self.partition_tag(topic, partition)}:undo:{generation}"
