"""The two records a decision writes: a label on events.feedback and the human decision on events.scored.

Both follow processor/schemas/output (feedback.avsc, scored.avsc) and are encoded like every other output.
Lineage headers name the review record the decision answers (``review-topic``, ``review-partition``,
``review-offset``): not ``source-*``, which name inputs of events.raw and are what the accounting
identity counts.
"""

from __future__ import annotations

from typing import Any

from processor.config import TopicsSettings
from processor.messages import Headers, OutputRecord
from processor.review.items import Choice, ReviewItem
from processor.serializers.outputs import OutputEncoder

DECISION_SOURCE = "human"


def feedback_record(
    item: ReviewItem, choice: Choice, reviewer: str, decided_at: int, note: str | None
) -> dict[str, Any]:
    return {
        "event_id": item.event_id,
        "event_type": item.event_type,
        "label": choice.label,
        "reviewer": reviewer,
        "decided_at": decided_at,
        "note": note,
    }


def scored_record(item: ReviewItem, choice: Choice, reviewer: str, decided_at: int) -> dict[str, Any]:
    """The human decision; score, confidence and model version stay the model's, for comparison."""
    return {
        "event_id": item.event_id,
        "event_type": item.event_type,
        "entity_id": item.entity_id,
        "occurred_at": item.occurred_at,
        "processed_at": decided_at,
        "decision": choice.decision,
        "category": choice.category if choice.category is not None else item.category,
        "score": item.score,
        "confidence": item.confidence,
        "decision_source": DECISION_SOURCE,
        "rule_ids": list(item.rule_ids),
        "model_version": item.model_version,
        "late": item.late,
        "reason": f"reviewed by {reviewer} ({item.review_reason})",
    }


def decision_outputs(
    topics: TopicsSettings,
    encoder: OutputEncoder,
    item: ReviewItem,
    choice: Choice,
    reviewer: str,
    decided_at: int,
    note: str | None,
) -> tuple[OutputRecord, OutputRecord]:
    headers = (*_lineage(item, encoder, reviewer), ("decision", choice.decision.encode()))
    feedback = OutputRecord(
        topic=topics.feedback,
        key=item.event_id.encode(),  # one event's labels (corrections) share a partition, in order
        value=encoder.encode("feedback", feedback_record(item, choice, reviewer, decided_at, note)),
        headers=(*headers, *encoder.schema_headers("feedback")),
    )
    scored = OutputRecord(
        topic=topics.scored,
        key=item.entity_id.encode(),  # as the processor keys it: one entity's decisions in order
        value=encoder.encode("scored", scored_record(item, choice, reviewer, decided_at)),
        headers=(*headers, *encoder.schema_headers("scored")),
    )
    return feedback, scored


def _lineage(item: ReviewItem, encoder: OutputEncoder, reviewer: str) -> Headers:
    headers: list[tuple[str, bytes | None]] = [
        ("content-type", encoder.content_type),
        ("decision-source", DECISION_SOURCE.encode()),
        ("reviewer", reviewer.encode()),
    ]
    if item.position is not None:
        headers += [
            ("review-topic", item.position.topic.encode()),
            ("review-partition", str(item.position.partition).encode()),
            ("review-offset", str(item.position.offset).encode()),
        ]
    return tuple(headers)
