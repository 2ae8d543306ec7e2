"""Redis key names, in one place, ready for Redis Cluster.

A partition's reorder buffer and generation are updated together by one script, so they share
the hash tag ``{<prefix>rb:<topic>:<partition>}`` and live in one slot.

Dedupe marks and entity history are written by one script call per *slot group* per batch: each
of their keys carries a hash tag ``{d<g>}`` or ``{h<g>}`` with ``g`` one of ``GROUPS`` values taken
from a digest, so a call's keys share a slot, the groups spread over the cluster, and a batch costs
at most ``GROUPS`` calls however many events it holds. Their names are compact (digests, not the
event ids or entity values they stand for): with millions of small keys, the name is a large share
of the memory.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

#: Slot groups of the dedupe and history keys (calls per batch at most; distinct slots at least).
GROUPS = 256


def digest(*parts: str, size: int) -> bytes:
    """A ``size``-byte digest of the parts (NUL-joined, so ``("a", "bc")`` and ``("ab", "c")`` differ)."""
    return hashlib.blake2b("\0".join(parts).encode(), digest_size=size).digest()


@dataclass(frozen=True, slots=True)
class Keys:
    prefix: str

    def dedupe_bucket(self, shard: int, bucket: int) -> str:
        """The hash holding the dedupe marks of one shard first seen in one time bucket."""
        return f"{self.prefix}{{d{shard % GROUPS}}}{bucket}:{shard}"

    def history_tag(self, event_type: str, key_field: str) -> str:
        """A short name for the history of one key field of one event type."""
        return base64.urlsafe_b64encode(digest(event_type, key_field, size=3)).decode()

    def history_bucket(self, tag: str, shard: int, bucket: int) -> str:
        """The hash holding the history entries of one shard of key values in one event-time bucket."""
        return f"{self.prefix}{{h{shard % GROUPS}}}{tag}:{bucket}:{shard}"

    def history_promoted(self, tag: str, shard: int, bucket: int, name: bytes) -> str:
        """The sorted set of one busy key value in one bucket (in its shard's slot)."""
        return self.promoted_beside(self.history_bucket(tag, shard, bucket), name)

    @staticmethod
    def promoted_beside(bucket_key: str, name: bytes) -> str:
        """``history_promoted`` from its bucket hash's key (the hot path has that one at hand)."""
        return f"{bucket_key}:z:{name.hex()}"

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
