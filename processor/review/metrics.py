"""Review metrics, built on a given registry. Label sets are bounded: event types come from the
pipeline config (anything else is ``unknown``), reviewers from the configured reviewer list, and
only when ``review.metrics_reviewer_names`` is set (``/metrics`` needs no sign-in: by default it
does not say who works here); otherwise every decision is labelled reviewer ``any``."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from processor.review.store import QueueStats

#: Humans take minutes to days.
_DECISION_BUCKETS = (10.0, 30.0, 60.0, 300.0, 900.0, 1800.0, 3600.0, 4 * 3600.0, 12 * 3600.0, 86400.0, 3 * 86400.0)


@dataclass(frozen=True)
class ReviewMetrics:
    registry: CollectorRegistry
    event_types: frozenset[str]
    reviewer_names: bool
    queue_depth: Gauge
    oldest_age: Gauge
    overdue: Gauge
    sla_breaches: Counter
    ingested: Counter
    rejected: Counter
    decisions: Counter
    time_to_decision: Histogram
    agreement: Counter
    repeats: Counter
    decision_failures: Counter
    login_failures: Counter
    csrf_rejections: Counter

    @classmethod
    def create(
        cls, registry: CollectorRegistry | None = None, event_types: Iterable[str] = (), *, reviewer_names: bool = False
    ) -> ReviewMetrics:
        r = registry if registry is not None else CollectorRegistry()
        return cls(
            registry=r,
            event_types=frozenset(event_types),
            reviewer_names=reviewer_names,
            queue_depth=Gauge(
                "processor_review_queue_depth", "Items waiting for a reviewer.", ["event_type"], registry=r
            ),
            oldest_age=Gauge(
                "processor_review_oldest_item_age_seconds",
                "Age of the oldest waiting item (since it was escalated); 0 when none waits.",
                ["event_type"],
                registry=r,
            ),
            overdue=Gauge(
                "processor_review_overdue_items",
                "Waiting items older than the review SLA (settings.review.sla_seconds).",
                ["event_type"],
                registry=r,
            ),
            sla_breaches=Counter(
                "processor_review_sla_breaches_total",
                "Items that waited longer than the SLA, each counted once.",
                ["event_type"],
                registry=r,
            ),
            ingested=Counter(
                "processor_review_ingested_total",
                "Review records read into the store (new items; replays not counted).",
                ["event_type"],
                registry=r,
            ),
            rejected=Counter(
                "processor_review_rejected_records_total",
                "Records on the review or feedback topic that could not be read, by reason.",
                ["topic_kind", "reason"],
                registry=r,
            ),
            decisions=Counter(
                "processor_review_decisions_total",
                "Human decisions written (exactly once per event), by reviewer (``any`` unless "
                "review.metrics_reviewer_names), event type and decision.",
                ["reviewer", "event_type", "decision"],
                registry=r,
            ),
            time_to_decision=Histogram(
                "processor_review_time_to_decision_seconds",
                "From escalation (review record processed_at) to the human decision.",
                ["event_type"],
                buckets=_DECISION_BUCKETS,
                registry=r,
            ),
            agreement=Counter(
                "processor_review_model_agreement_total",
                "Human decisions compared with the model's: agree, disagree, or no_model (no score).",
                ["event_type", "agreement"],
                registry=r,
            ),
            repeats=Counter(
                "processor_review_repeated_requests_total",
                "Decision requests that wrote nothing: already decided (same or other answer) or being decided.",
                ["outcome"],
                registry=r,
            ),
            decision_failures=Counter(
                "processor_review_decision_failures_total",
                "Decisions that could not be written (Kafka or Redis error), by reason.",
                ["reason"],
                registry=r,
            ),
            login_failures=Counter(
                "processor_review_login_failures_total",
                "Failed sign-ins, by reason (bad_credentials, locked_out).",
                ["reason"],
                registry=r,
            ),
            csrf_rejections=Counter(
                "processor_review_csrf_rejections_total",
                "Form posts refused for a missing or wrong CSRF token.",
                registry=r,
            ),
        )

    def reviewer(self, name: str) -> str:
        return name if self.reviewer_names else "any"

    def event_type(self, name: str) -> str:
        return name if name in self.event_types else "unknown"

    def set_queue(self, stats: QueueStats, now_ms: int) -> None:
        for name in self.event_types | {"unknown"}:
            depth = sum(n for t, n in stats.depth.items() if self.event_type(t) == name)
            oldest = [at for t, at in stats.oldest_at.items() if self.event_type(t) == name]
            over = sum(n for t, n in stats.overdue.items() if self.event_type(t) == name)
            self.queue_depth.labels(name).set(depth)
            self.oldest_age.labels(name).set(max(0.0, (now_ms - min(oldest)) / 1000) if oldest else 0.0)
            self.overdue.labels(name).set(over)
