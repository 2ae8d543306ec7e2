"""Shadow comparison: outcomes through the decision policy, agreement, and the shadow records."""

from __future__ import annotations

import numpy as np
import orjson

from processor.config import PipelinesConfig
from processor.messages import Event, RawMessage
from processor.serializers.outputs import OutputEncoder
from processor.serializers.schemas import SchemaStore
from processor.serving.shadow import ShadowComparer, outcome


def test_outcome_follows_bands_and_review_band(pipelines: PipelinesConfig) -> None:
    policy = pipelines.event_types["user_signed_up"].decision  # block >= 0.70, review [0.40, 0.70)
    assert [outcome(policy, s) for s in (0.0, 0.39, 0.40, 0.69, 0.70, 1.0)] == [
        "approve",
        "approve",
        "review",
        "review",
        "block",
        "block",
    ]


def _event(i: int) -> Event:
    raw = RawMessage(topic="t", partition=0, offset=i, key=None, value=b"{}")
    return Event(raw, {}, f"e{i}", "user_signed_up", f"u{i}", i, None, None, "json")


def test_agreement_and_records(pipelines: PipelinesConfig, schema_store: SchemaStore) -> None:
    comparer = ShadowComparer(
        {n: c.decision for n, c in pipelines.event_types.items()}, OutputEncoder(schema_store), "events.shadow"
    )
    active = np.array([0.1, 0.5, 0.9, 0.2])
    shadow = np.array([0.15, 0.8, 0.95, 0.45])  # agree, disagree (review vs block), agree, disagree
    result = comparer.compare("user_signed_up", [_event(i) for i in range(4)], "v1", active, "v2", shadow)
    assert (result.n, result.agreements) == (4, 2)
    assert np.allclose(result.abs_diffs, [0.05, 0.3, 0.05, 0.25])
    records = [orjson.loads(r.value) for r in result.records]
    assert [r["agree"] for r in records] == [True, False, True, False]
    assert records[1] | {"scored_at": 0} == {
        "event_id": "e1",
        "event_type": "user_signed_up",
        "entity_id": "u1",
        "active_version": "v1",
        "active_score": 0.5,
        "active_outcome": "review",
        "shadow_version": "v2",
        "shadow_score": 0.8,
        "shadow_outcome": "block",
        "agree": False,
        "scored_at": 0,
    }
    assert all(r.topic == "events.shadow" and r.key == f"u{i}".encode() for i, r in enumerate(result.records))
    # without a topic: measured, nothing written
    quiet = ShadowComparer({n: c.decision for n, c in pipelines.event_types.items()})
    assert quiet.compare("user_signed_up", [_event(0)], "v1", active[:1], "v2", shadow[:1]).records == []
