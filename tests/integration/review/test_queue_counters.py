"""The queue's figures (depth, oldest, overdue, SLA breaches) are kept as items come and go, so the
metrics and the queue page read a few numbers per type instead of loading the queue's items."""

from __future__ import annotations

import uuid

import orjson
import redis

from processor.review.items import parse_review_record
from processor.review.metrics import ReviewMetrics
from processor.review.store import DoneRecord, ReviewStore

_OWN_DATABASE = 14  # the test deletes keys by pattern: never in the shared database 0
_SLA_MS = 60_000
_NOW = 1_800_000_000_000


def _store(redis_client: redis.Redis) -> tuple[ReviewStore, redis.Redis, str]:
    pool = redis_client.connection_pool.connection_kwargs
    own = redis.Redis(host=pool["host"], port=pool["port"], db=_OWN_DATABASE)
    prefix = f"it:{uuid.uuid4().hex[:10]}:"
    return ReviewStore(own, prefix), own, prefix


def _item(event_id: str, event_type: str, processed_at: int) -> bytes:
    return orjson.dumps(
        {
            "event_id": event_id,
            "event_type": event_type,
            "entity_id": "e",
            "occurred_at": processed_at - 1_000,
            "processed_at": processed_at,
            "decision": "approve",
            "decision_source": "model",
            "review_reason": "rule:x",
            "event": "{}",
        }
    )


def test_figures_follow_items_in_and_out_without_reading_them(redis_client: redis.Redis) -> None:
    store, own, prefix = _store(redis_client)
    try:
        items = [parse_review_record(_item(f"s-{i}", "user_signed_up", _NOW - 3_600_000 + i)) for i in range(1_500)] + [
            parse_review_record(_item(f"j-{i}", "jira_ticket_created", _NOW - 1_000 + i)) for i in range(500)
        ]
        for start in range(0, len(items), 500):
            store.add([(item, 1) for item in items[start : start + 500]])
        store.add([(items[0], 1)])  # a replay changes nothing
        # the figures do not come from the items: with every item body gone they still hold
        own.delete(*own.keys(f"{{{prefix}rv:*}}:item"))
        stats = store.stats(_SLA_MS, _NOW)
        assert stats.depth == {"user_signed_up": 1_500, "jira_ticket_created": 500}
        assert stats.oldest_at == {"user_signed_up": _NOW - 3_600_000, "jira_ticket_created": _NOW - 1_000}
        assert stats.overdue == {"user_signed_up": 1_500}

        decided = DoneRecord("s-0", "approve", "legit", "alice", _NOW)
        store.finish("no-claim", decided)
        store.record_feedback([DoneRecord("j-3", "accept", "actionable", "bob", _NOW)])
        after = store.stats(_SLA_MS, _NOW)
        assert after.depth == {"user_signed_up": 1_499, "jira_ticket_created": 499}
        assert after.oldest_at["user_signed_up"] == _NOW - 3_600_000 + 1

        # each breach is counted once, worked through in bounded rounds
        breached = [store.newly_overdue(_SLA_MS, _NOW, limit=1_000) for _ in range(3)]
        assert [len(b) for b in breached] == [1_000, 499, 0]
        assert {event_id for batch in breached for event_id, _ in batch} == {f"s-{i}" for i in range(1, 1_500)}
    finally:
        for key in own.scan_iter(match=f"*{prefix}*", count=5_000):
            own.delete(key)


def test_reviewer_names_are_labels_only_when_configured() -> None:
    hidden, shown = ReviewMetrics.create(), ReviewMetrics.create(reviewer_names=True)
    assert hidden.reviewer("alice") == "any" and shown.reviewer("alice") == "alice"
