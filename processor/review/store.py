"""The review store in Redis: the queue, the items, and the atomic claim that makes decisions exactly once.

Per event (keys sharing the hash tag ``{<prefix>rv:<sha1(event_id)>}``, so one script can touch them
together in Redis Cluster; the hash also keeps hostile event ids out of key names):

* ``:item``  the review item (JSON), written once (NX): a replayed review record changes nothing;
* ``:claim`` who is deciding it right now (a token, with a TTL), set NX by one script that first
  checks ``:done``: two reviewers clicking at once get one claim, the other is told;
* ``:done``  the decision, once its Kafka transaction committed; never expires, so a repeated or
  retried request finds it and writes nothing;
* ``:sla``   set the first time the item is seen overdue, so each breach is counted once.

Across events: ``<prefix>rv:queue`` (sorted set: priority, then age) and ``<prefix>rv:rejected``
(the last review records that could not be read, for the queue page). The queue's figures are kept
as items come and go, never counted by reading items: per event type a sorted set of the waiting
ids by escalation time (``rv:age:<type>``: depth is its size, the oldest its first member, the
overdue a range count), the set of types seen (``rv:types``), and a cursor per type up to which
SLA breaches were counted (``rv:sla-cursor:<type>``).
"""

from __future__ import annotations

import hashlib
import time
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

import orjson
import redis

from processor.review.items import ReviewItem

#: Priority steps dwarf any epoch-ms age, so priority orders first and age second in one score.
_PRIORITY_STEP = 10**13
_REJECTED_KEEP = 200

_CLAIM = """
local done = redis.call('GET', KEYS[1])
if done then return {'done', done} end
if redis.call('EXISTS', KEYS[3]) == 0 then return {'missing', ''} end
if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then return {'claimed', ''} end
return {'busy', redis.call('GET', KEYS[2]) or ''}
"""

# Still ours? Extend it for the commit; refuse when the claim expired and someone else took it.
_HOLD = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
"""

# The Kafka transaction committed: the decision is a fact. Record it (the first record wins: a
# feedback replay of the same decision finds it there) and let the claim go.
_FINISH = """
local written = redis.call('SET', KEYS[1], ARGV[2], 'NX')
if redis.call('GET', KEYS[2]) == ARGV[1] then redis.call('DEL', KEYS[2]) end
if written then return 1 end
return 0
"""

# Count a sign-in attempt under each key; the first count in a window starts its expiry.
_LOGIN_ATTEMPT = """
local counts = {}
for i, key in ipairs(KEYS) do
  local n = redis.call('INCR', key)
  if n == 1 then redis.call('EXPIRE', key, ARGV[1]) end
  counts[i] = n
end
return counts
"""

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


@dataclass(frozen=True, slots=True)
class DoneRecord:
    """What was decided, by whom and when: the answer to every later request for the same event."""

    event_id: str
    decision: str
    label: str
    reviewer: str
    decided_at: int
    note: str | None = None

    def to_json(self) -> bytes:
        return orjson.dumps(asdict(self))

    @classmethod
    def from_json(cls, data: bytes) -> DoneRecord:
        return cls(**orjson.loads(data))


@dataclass(frozen=True, slots=True)
class Claim:
    status: str  # claimed | done | busy | missing
    token: str = ""
    done: DoneRecord | None = None
    holder: str | None = None  # reviewer holding a busy claim


@dataclass(frozen=True, slots=True)
class QueueEntry:
    item: ReviewItem
    priority: int
    enqueued_at: int


@dataclass(frozen=True, slots=True)
class QueueStats:
    depth: dict[str, int]
    oldest_at: dict[str, int]  # event_type -> enqueued_at of its oldest waiting item (epoch ms)
    overdue: dict[str, int]
    overdue_items: list[tuple[str, str]] = field(default_factory=list)  # (event_id, event_type)


class ReviewStore:
    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self._r = client
        self._prefix = prefix
        self._queue = f"{prefix}rv:queue"
        self._rejected = f"{prefix}rv:rejected"
        self._types = f"{prefix}rv:types"
        self._indexed = f"{prefix}rv:age-indexed"
        self._claim = client.register_script(_CLAIM)
        self._hold = client.register_script(_HOLD)
        self._finish = client.register_script(_FINISH)
        self._release = client.register_script(_RELEASE)
        self._login_attempt = client.register_script(_LOGIN_ATTEMPT)

    # -- keys ----------------------------------------------------------------------------------

    def _tag(self, event_id: str) -> str:
        return f"{{{self._prefix}rv:{hashlib.sha1(event_id.encode(), usedforsecurity=False).hexdigest()}}}"

    def _item_key(self, event_id: str) -> str:
        return f"{self._tag(event_id)}:item"

    def _claim_key(self, event_id: str) -> str:
        return f"{self._tag(event_id)}:claim"

    def _done_key(self, event_id: str) -> str:
        return f"{self._tag(event_id)}:done"

    def _sla_key(self, event_id: str) -> str:
        return f"{self._tag(event_id)}:sla"

    # -- ingest --------------------------------------------------------------------------------

    def add(self, items: list[tuple[ReviewItem, int]]) -> list[bool]:
        """Queue ``(item, priority)`` pairs; idempotent per event_id. Returns, per item, whether it was new."""
        if not items:
            return []
        pipe = self._r.pipeline(transaction=False)
        for item, _ in items:
            pipe.set(self._item_key(item.event_id), item.to_json(), nx=True)
            pipe.exists(self._done_key(item.event_id))
        replies = pipe.execute()
        pipe = self._r.pipeline(transaction=False)
        new = []
        for i, (item, priority) in enumerate(items):
            created, done = replies[2 * i], replies[2 * i + 1]
            new.append(bool(created))
            if not done:
                # NX: a replay keeps the item's first place in the queue
                pipe.zadd(self._queue, {item.event_id: priority * _PRIORITY_STEP + item.processed_at}, nx=True)
                pipe.zadd(self._age_key(item.event_type), {item.event_id: item.processed_at}, nx=True)
                pipe.sadd(self._types, item.event_type)
        pipe.execute()
        return new

    def _age_key(self, event_type: str) -> str:
        return f"{self._prefix}rv:age:{hashlib.sha1(event_type.encode(), usedforsecurity=False).hexdigest()}"

    def _sla_cursor_key(self, event_type: str) -> str:
        return f"{self._prefix}rv:sla-cursor:{hashlib.sha1(event_type.encode(), usedforsecurity=False).hexdigest()}"

    def types(self) -> list[str]:
        """Event types that ever had a queued item (a handful: the pipelines' types)."""
        pipe = self._r.pipeline(transaction=False)  # a pipeline of one: the same call on a cluster client
        pipe.execute_command("SMEMBERS", self._types)  # type: ignore[no-untyped-call]
        (members,) = pipe.execute()
        return sorted(t.decode(errors="replace") for t in members or ())

    def _dequeue(self, pipe: Any, event_id: str, types: list[str]) -> None:
        pipe.zrem(self._queue, event_id)
        for event_type in types:  # a handful: the pipelines' types
            pipe.zrem(self._age_key(event_type), event_id)

    def index_existing(self, page: int = 1_000) -> int:
        """Once per store: put items queued before the per-type figures existed into them (pages of
        ``page``; later calls do nothing). Returns how many items were indexed."""
        if not self._r.set(self._indexed, b"1", nx=True):
            return 0
        indexed, offset = 0, 0
        while entries := self.queue(limit=page, offset=offset):
            pipe = self._r.pipeline(transaction=False)
            for entry in entries:
                pipe.zadd(self._age_key(entry.item.event_type), {entry.item.event_id: entry.enqueued_at}, nx=True)
                pipe.sadd(self._types, entry.item.event_type)
            pipe.execute()
            indexed += len(entries)
            offset += page
        return indexed

    def record_feedback(self, records: list[DoneRecord]) -> int:
        """Decisions read back from the feedback topic (committed): a replica that crashed between its
        Kafka commit and its Redis write, or another replica, is caught up here. Returns how many were new."""
        if not records:
            return 0
        written = self._r.pipeline(transaction=False)
        for record in records:
            written.set(self._done_key(record.event_id), record.to_json(), nx=True)
        replies = written.execute()
        types = self.types()
        pipe = self._r.pipeline(transaction=False)
        for record in records:
            self._dequeue(pipe, record.event_id, types)
        pipe.execute()
        return sum(bool(r) for r in replies)

    def reject(self, position: str, code: str, message: str) -> None:
        entry = orjson.dumps({"position": position, "code": code, "message": message[:500], "at": _now_ms()})
        pipe = self._r.pipeline(transaction=False)
        pipe.lpush(self._rejected, entry)
        pipe.ltrim(self._rejected, 0, _REJECTED_KEEP - 1)
        pipe.execute()

    def rejected(self, limit: int = 20) -> list[dict[str, object]]:
        return [orjson.loads(x) for x in self._r.lrange(self._rejected, 0, limit - 1)]

    # -- reading -------------------------------------------------------------------------------

    def queue(self, limit: int = 100, offset: int = 0) -> list[QueueEntry]:
        """Waiting items, most urgent first (priority, then oldest)."""
        scored: list[tuple[bytes, float]] = self._r.zrange(  # type: ignore[assignment]
            self._queue, offset, offset + limit - 1, withscores=True
        )
        if not scored:
            return []
        ids = [member.decode() for member, _ in scored]
        pipe = self._r.pipeline(transaction=False)
        for event_id in ids:
            pipe.get(self._item_key(event_id))
        blobs = pipe.execute()
        out = []
        for (_, score), blob in zip(scored, blobs, strict=True):
            if blob is None:
                continue
            priority, enqueued_at = divmod(int(score), _PRIORITY_STEP)
            out.append(QueueEntry(ReviewItem.from_json(blob), priority, enqueued_at))
        return out

    def depth(self) -> int:
        return int(self._r.zcard(self._queue))

    def get(self, event_id: str) -> ReviewItem | None:
        blob = _bytes(self._r.get(self._item_key(event_id)))
        return ReviewItem.from_json(blob) if blob is not None else None

    def done(self, event_id: str) -> DoneRecord | None:
        blob = _bytes(self._r.get(self._done_key(event_id)))
        return DoneRecord.from_json(blob) if blob is not None else None

    def holder(self, event_id: str) -> str | None:
        """The reviewer deciding this item right now, if anyone."""
        blob = _bytes(self._r.get(self._claim_key(event_id)))
        return _claim_reviewer(blob) if blob is not None else None

    def stats(self, sla_ms: int, now_ms: int | None = None) -> QueueStats:
        """Depth, oldest item and overdue count per event type (the queue page and the metrics):
        three O(log n) reads per type, whatever the queue holds."""
        now_ms = _now_ms() if now_ms is None else now_ms
        types = self.types()
        pipe = self._r.pipeline(transaction=False)
        for event_type in types:
            key = self._age_key(event_type)
            pipe.zcard(key)
            pipe.zrange(key, 0, 0, withscores=True)
            pipe.zcount(key, "-inf", now_ms - sla_ms - 1)
        replies = pipe.execute()
        depth, oldest, overdue = {}, {}, {}
        for i, event_type in enumerate(types):
            count, first, late = replies[3 * i : 3 * i + 3]
            if count:
                depth[event_type] = int(count)
                oldest[event_type] = int(first[0][1])
            if late:
                overdue[event_type] = int(late)
        return QueueStats(depth, oldest, overdue)

    def newly_overdue(self, sla_ms: int, now_ms: int | None = None, limit: int = 1_000) -> list[tuple[str, str]]:
        """Items that became overdue since the last call, each returned once across replicas, at most
        ``limit`` per type per call (a cursor per type moves on, so a long backlog is worked through)."""
        now_ms = _now_ms() if now_ms is None else now_ms
        found: list[tuple[str, str]] = []
        for event_type in self.types():
            cursor = _bytes(self._r.get(self._sla_cursor_key(event_type)))
            low = cursor.decode() if cursor is not None else "-inf"
            batch: list[tuple[bytes, float]] = self._r.zrangebyscore(  # type: ignore[assignment]
                self._age_key(event_type), low, now_ms - sla_ms - 1, start=0, num=limit, withscores=True
            )
            if not batch:
                continue
            ids = [member.decode() for member, _ in batch]
            found.extend((event_id, event_type) for event_id in self.mark_sla_breached(ids))
            self._r.set(self._sla_cursor_key(event_type), str(int(batch[-1][1])).encode())
        return found

    def mark_sla_breached(self, event_ids: list[str]) -> list[str]:
        """The ids not marked before (each breach is counted once, across replicas)."""
        if not event_ids:
            return []
        pipe = self._r.pipeline(transaction=False)
        for event_id in event_ids:
            pipe.set(self._sla_key(event_id), b"1", nx=True)
        return [e for e, new in zip(event_ids, pipe.execute(), strict=True) if new]

    def sla_breached(self, event_id: str) -> bool:
        return bool(self._r.exists(self._sla_key(event_id)))

    # -- deciding ------------------------------------------------------------------------------

    def claim(self, event_id: str, reviewer: str, ttl_ms: int) -> Claim:
        token = f"{reviewer}\x00{uuid.uuid4().hex}"
        keys = [self._done_key(event_id), self._claim_key(event_id), self._item_key(event_id)]
        status, payload = self._claim(keys=keys, args=[token, ttl_ms])
        status = status.decode()
        if status == "claimed":
            return Claim("claimed", token=token)
        if status == "done":
            return Claim("done", done=DoneRecord.from_json(payload))
        if status == "busy":
            return Claim("busy", holder=_claim_reviewer(payload))
        return Claim("missing")

    def hold(self, event_id: str, token: str, ttl_ms: int) -> bool:
        return bool(self._hold(keys=[self._claim_key(event_id)], args=[token, ttl_ms]))

    def finish(self, token: str, record: DoneRecord) -> bool:
        """Record a committed decision; False if a decision was already recorded (it must be this one)."""
        written = bool(
            self._finish(
                keys=[self._done_key(record.event_id), self._claim_key(record.event_id)], args=[token, record.to_json()]
            )
        )
        self._r.zrem(self._queue, record.event_id)
        for event_type in self.types():
            self._r.zrem(self._age_key(event_type), record.event_id)
        return written

    def release(self, event_id: str, token: str) -> None:
        self._release(keys=[self._claim_key(event_id)], args=[token])

    # -- sign-in attempts: counted here, so every replica sees them -----------------------------

    def count_login_attempt(self, name: str, address: str, window_s: int) -> tuple[int, int, int]:
        """Count one sign-in attempt and return the attempts within the window (this one included)
        per (name, address), per address and per name. One script: parallel attempts each get
        their own count, so none can check the password between another's check and count."""
        n, a = self._digest(name), self._digest(address)
        keys = [self._login_key(f"na:{n}:{a}"), self._login_key(f"a:{a}"), self._login_key(f"n:{n}")]
        counts = self._login_attempt(keys=keys, args=[window_s])
        return int(counts[0]), int(counts[1]), int(counts[2])

    def clear_login_attempts(self, name: str, address: str) -> None:
        n, a = self._digest(name), self._digest(address)
        self._r.delete(self._login_key(f"na:{n}:{a}"), self._login_key(f"n:{n}"))

    def consume_once(self, token: str, ttl_s: int) -> bool:
        """True the first time ``token`` is presented (within ``ttl_s``), False on every reuse."""
        return bool(self._r.set(self._login_key(f"used:{self._digest(token)}"), b"1", nx=True, ex=ttl_s))

    def _login_key(self, suffix: str) -> str:
        # one hash tag: the attempt script touches three keys, which Redis Cluster wants in one slot
        return f"{{{self._prefix}rv:login}}:{suffix}"

    @staticmethod
    def _digest(text: str) -> str:
        # names and addresses are whatever was sent: a digest bounds the key, the TTL their number
        return hashlib.sha256(text.encode(errors="replace")).hexdigest()[:32]

    # -- sessions ------------------------------------------------------------------------------

    def revoke_session(self, session_id: str, ttl_s: int) -> None:
        """A signed-out session stays refused for ``ttl_s``: callers give more than a session's
        whole life (sessions carry their sign-in time and end at the max age however often the
        cookie is re-signed), so a revoked session never becomes valid again."""
        self._r.set(self._revoked_key(session_id), b"1", ex=ttl_s)

    def session_revoked(self, session_id: str) -> bool:
        return bool(self._r.exists(self._revoked_key(session_id)))

    def _revoked_key(self, session_id: str) -> str:
        return f"{self._prefix}rv:revoked:{session_id}"

    def enqueued_at(self, event_id: str) -> int | None:
        score = self._r.zscore(self._queue, event_id)
        return None if score is None else int(score) % _PRIORITY_STEP


def _bytes(value: object) -> bytes | None:
    """The client runs with ``decode_responses=False``: values are bytes (or None)."""
    return value if isinstance(value, bytes) else None


def _claim_reviewer(token: bytes) -> str:
    return token.split(b"\x00", 1)[0].decode(errors="replace")


def _now_ms() -> int:
    return int(time.time() * 1000)
