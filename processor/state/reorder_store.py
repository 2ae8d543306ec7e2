"""The reorder buffer's durable copy in Redis, with generations so aborted batches can be undone.

Per input partition, under one hash tag (one slot in Redis Cluster):

- ``...:state``  hash: ``gen`` (generation of the last applied batch), ``clocks`` (watermarks, JSON),
  ``owner`` (a token the current owner wrote when it was assigned the partition)
- ``...:items``  hash: input offset -> buffered event (JSON)
- ``...:undo:<gen>`` hash: how to undo generation ``gen``: the previous gen and clocks, the
  offsets it added, and the payloads it removed.

``apply`` is a compare-and-set on ``gen`` and on ``owner`` (so a stale writer, such as a process
that was paused while its partitions moved, can neither write nor undo anything) that writes the
undo record and the change in one script. The undo record of a generation is deleted when the
next one is applied, which the loop only does after the previous generation's transaction has
committed. ``reconcile`` walks back generations newer than the committed one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import redis

from processor.errors import StateError
from processor.state.keys import Keys

_APPLY = """
local owner = redis.call('HGET', KEYS[1], 'owner')
if owner and ARGV[5] ~= '' and owner ~= ARGV[5] then
  return redis.error_reply('OWNER_CONFLICT partition now owned by ' .. owner)
end
local cur = redis.call('HGET', KEYS[1], 'gen') or '0'
if cur ~= ARGV[1] then
  return redis.error_reply('GENERATION_CONFLICT expected ' .. ARGV[1] .. ' found ' .. cur)
end
local n_add = tonumber(ARGV[4])
redis.call('DEL', KEYS[3])
redis.call('HSET', KEYS[3], 'prev_gen', cur, 'prev_clocks', redis.call('HGET', KEYS[1], 'clocks') or '')
local added = {}
local i = 6
for _ = 1, n_add do
  added[#added + 1] = ARGV[i]
  redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1])
  i = i + 2
end
if #added > 0 then redis.call('HSET', KEYS[3], 'added', cjson.encode(added)) end
for j = i, #ARGV do
  local old = redis.call('HGET', KEYS[2], ARGV[j])
  if old then
    redis.call('HSET', KEYS[3], 'r:' .. ARGV[j], old)
    redis.call('HDEL', KEYS[2], ARGV[j])
  end
end
redis.call('HSET', KEYS[1], 'gen', ARGV[2], 'clocks', ARGV[3])
if KEYS[4] ~= KEYS[3] then redis.call('DEL', KEYS[4]) end
return 1
"""

_REVERT = """
local owner = redis.call('HGET', KEYS[1], 'owner')
if owner and ARGV[2] ~= '' and owner ~= ARGV[2] then
  return redis.error_reply('OWNER_CONFLICT partition now owned by ' .. owner)
end
local cur = redis.call('HGET', KEYS[1], 'gen') or '0'
if cur ~= ARGV[1] then
  return redis.error_reply('GENERATION_CONFLICT expected ' .. ARGV[1] .. ' found ' .. cur)
end
if redis.call('EXISTS', KEYS[3]) == 0 then return redis.error_reply('UNDO_MISSING ' .. cur) end
local u = redis.call('HGETALL', KEYS[3])
local prev_gen, prev_clocks = '0', ''
for i = 1, #u, 2 do
  local k, v = u[i], u[i + 1]
  if k == 'added' then
    for _, f in ipairs(cjson.decode(v)) do redis.call('HDEL', KEYS[2], f) end
  elseif k == 'prev_gen' then prev_gen = v
  elseif k == 'prev_clocks' then prev_clocks = v
  end
end
for i = 1, #u, 2 do
  if string.sub(u[i], 1, 2) == 'r:' then redis.call('HSET', KEYS[2], string.sub(u[i], 3), u[i + 1]) end
end
redis.call('HSET', KEYS[1], 'gen', prev_gen)
if prev_clocks == '' then redis.call('HDEL', KEYS[1], 'clocks') else redis.call('HSET', KEYS[1], 'clocks', prev_clocks) end
redis.call('DEL', KEYS[3])
return prev_gen
"""


class OwnershipLostError(StateError):
    """Another process has claimed the partition: this one is a zombie and must not touch it."""


class StateLostError(StateError):
    """Redis holds an older generation than Kafka committed: its data was lost (no AOF, flushed)."""


class GenerationConflictError(StateError):
    """A buffer change was refused: Redis holds another generation of the partition than the batch
    was built on (Redis lost data since, or something else wrote it). Redis answered, so this is
    no outage; the batch is redone from the last commit, which reconciles the partition."""


#: The codes the scripts' error replies start with, and the error (and its code) each one means.
_REFUSALS: dict[str, tuple[type[StateError], str]] = {
    "OWNER_CONFLICT": (OwnershipLostError, "ownership_lost"),
    "GENERATION_CONFLICT": (GenerationConflictError, "generation_conflict"),
}


def script_refusal(exc: redis.ResponseError) -> StateError | None:
    """The typed error of a reorder script's refusal, or None when ``exc`` is another Redis error.

    The script's error reply starts with its code (``OWNER_CONFLICT``, ``GENERATION_CONFLICT``).
    Inside a pipeline, redis-py puts ``Command # n (<the command, truncated>) of pipeline caused
    error: `` before the reply; the command's text may hold event bytes, so only what follows the
    last such prefix is read, and only its first word is matched.
    """
    reply = str(exc).rpartition(" caused error: ")[2]
    refused = _REFUSALS.get(reply.partition(" ")[0])
    if refused is None:
        return None
    error, code = refused
    return error(code, reply)


@dataclass(frozen=True, slots=True)
class StoredPartition:
    generation: int
    clocks: bytes | None
    items: dict[int, bytes]


@dataclass(frozen=True, slots=True)
class BufferChange:
    """One batch's net change to one partition's buffer."""

    topic: str
    partition: int
    expected_generation: int
    new_generation: int
    clocks: bytes
    added: Mapping[int, bytes]
    removed: Sequence[int]
    owner: str = ""


class ReorderStore:
    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self._client = client
        self._keys = keys
        self._apply = client.register_script(_APPLY)
        self._revert = client.register_script(_REVERT)

    def queue_apply(self, pipe: Any, change: BufferChange) -> None:
        """Add the change to a pipeline (the batch's single round trip)."""
        k = self._keys
        t, p = change.topic, change.partition
        args: list[Any] = [
            change.expected_generation,
            change.new_generation,
            change.clocks,
            len(change.added),
            change.owner,
        ]
        for offset, payload in change.added.items():
            args.extend((offset, payload))
        args.extend(change.removed)
        # what Script.__call__ does on a plain pipeline, spelt out so it also runs on the cluster
        # client's pipeline (processor/state/redis_client.py), whose evalsha() redis-py blocks
        pipe.scripts.add(self._apply)
        pipe.execute_command(
            "EVALSHA",
            self._apply.sha,
            4,
            k.buffer_state(t, p),
            k.buffer_items(t, p),
            k.buffer_undo(t, p, change.new_generation),
            k.buffer_undo(t, p, change.expected_generation),
            *args,
        )

    def load(self, topic: str, partition: int) -> StoredPartition:
        pipe = self._client.pipeline(transaction=False)
        pipe.hmget(self._keys.buffer_state(topic, partition), ["gen", "clocks"])
        pipe.hgetall(self._keys.buffer_items(topic, partition))
        (gen, clocks), items = pipe.execute()
        return StoredPartition(
            generation=int(gen or 0),
            clocks=clocks,
            items={int(offset): payload for offset, payload in items.items()},
        )

    def claim(self, topic: str, partition: int, owner: str) -> None:
        """Make ``owner`` the only writer of the partition's state (on assignment, before reconcile)."""
        self._client.hset(self._keys.buffer_state(topic, partition), "owner", owner)

    def reconcile(self, topic: str, partition: int, committed_generation: int, owner: str = "") -> int:
        """Undo generations newer than the committed one; returns how many were undone.

        Raises StateLostError when Redis is behind Kafka (its data was lost), and
        OwnershipLostError when another process has claimed the partition since ``owner`` did.
        """
        k = self._keys
        undone = 0
        while True:
            raw, holder = self._client.hmget(k.buffer_state(topic, partition), ["gen", "owner"])
            if owner and holder is not None and holder != owner.encode():
                raise OwnershipLostError(
                    "ownership_lost", f"{topic}[{partition}] is now owned by {holder!r}, not {owner}"
                )
            gen = int(raw or 0)
            if gen == committed_generation:
                return undone
            if gen < committed_generation:
                raise StateLostError(
                    "state_lost",
                    f"Redis holds generation {gen} of {topic}[{partition}] but Kafka committed "
                    f"{committed_generation}: Redis lost data",
                )
            try:
                self._revert(
                    keys=[
                        k.buffer_state(topic, partition),
                        k.buffer_items(topic, partition),
                        k.buffer_undo(topic, partition, gen),
                    ],
                    args=[gen, owner],
                )
            except redis.ResponseError as exc:
                if isinstance(script_refusal(exc), OwnershipLostError):
                    raise OwnershipLostError("ownership_lost", f"{topic}[{partition}]: {exc}") from exc
                raise StateError(
                    "reconcile_failed", f"cannot undo generation {gen} of {topic}[{partition}]: {exc}"
                ) from exc
            undone += 1

    def reset(self, topic: str, partition: int, generation: int, owner: str = "") -> None:
        """Start a partition's state afresh at a generation (after a detected loss)."""
        k = self._keys
        pipe = self._client.pipeline(transaction=False)
        pipe.delete(k.buffer_items(topic, partition))
        pipe.delete(k.buffer_state(topic, partition))
        pipe.hset(k.buffer_state(topic, partition), mapping={"gen": generation, "owner": owner})
        pipe.execute()
