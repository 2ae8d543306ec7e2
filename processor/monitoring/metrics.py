"""All metrics of the processor, built by one factory on a given registry (tests use a fresh one).

Label sets are bounded: event types come from the pipeline config (anything else is
``unknown``), stages and error codes from the code, partitions from the topic.
"""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
_SCORE_BUCKETS = tuple(i / 10 for i in range(1, 11))


@dataclass(frozen=True)
class Metrics:
    registry: CollectorRegistry
    input_messages: Counter
    outcomes: Counter
    quarantined: Counter
    duplicates: Counter
    late_events: Counter
    coercions: Counter
    decisions: Counter
    model_failures: Counter
    transactions: Counter
    state_rebuilds: Counter
    generations_undone: Counter
    at_least_once_duplicates: Counter
    batch_messages: Histogram
    stage_seconds: Histogram
    end_to_end_seconds: Histogram
    score: Histogram
    reorder_buffered: Gauge
    model_info: Gauge
    healthy: Gauge
    killswitch: Gauge
    killswitch_since: Gauge
    killswitched_events: Counter

    @classmethod
    def create(cls, registry: CollectorRegistry | None = None) -> Metrics:
        r = registry if registry is not None else CollectorRegistry()
        return cls(
            registry=r,
            input_messages=Counter(
                "processor_input_messages_total", "Messages consumed from the input topic.", ["topic"], registry=r
            ),
            outcomes=Counter(
                "processor_outcomes_total",
                "Inputs by final outcome: scored, review, quarantined, duplicate.",
                ["event_type", "outcome"],
                registry=r,
            ),
            quarantined=Counter(
                "processor_quarantined_total",
                "Inputs written to quarantine, by stage and error code.",
                ["stage", "error_code"],
                registry=r,
            ),
            duplicates=Counter(
                "processor_duplicates_dropped_total", "Duplicate events dropped.", ["event_type"], registry=r
            ),
            late_events=Counter(
                "processor_late_events_total",
                "Events behind the reorder watermark, by the policy applied.",
                ["event_type", "policy"],
                registry=r,
            ),
            coercions=Counter(
                "processor_coercions_total",
                "Tolerant-mode coercions (type conversions, filled defaults, dropped unknown fields).",
                ["event_type"],
                registry=r,
            ),
            decisions=Counter(
                "processor_decisions_total",
                "Decisions by source (model, rule, fallback, human) and route.",
                ["event_type", "decision_source", "route"],
                registry=r,
            ),
            model_failures=Counter(
                "processor_model_failures_total",
                "Batches a model could not score (no_model, model_error, latency_budget).",
                ["event_type", "reason"],
                registry=r,
            ),
            transactions=Counter(
                "processor_transactions_total", "Kafka transactions by result.", ["result"], registry=r
            ),
            state_rebuilds=Counter(
                "processor_state_rebuilds_total",
                "Partitions whose Redis state was lost and rebuilt from the recorded offset.",
                registry=r,
            ),
            generations_undone=Counter(
                "processor_state_generations_undone_total",
                "Reorder-buffer generations undone in Redis because their transaction never committed.",
                registry=r,
            ),
            at_least_once_duplicates=Counter(
                "processor_at_least_once_duplicates_total",
                "Outputs re-emitted while rebuilding a partition whose Redis state was lost (duplicates of earlier outputs).",
                registry=r,
            ),
            batch_messages=Histogram(
                "processor_batch_messages",
                "Messages per consumed batch.",
                buckets=(1, 10, 50, 100, 250, 500, 1000, 2500, 5000),
                registry=r,
            ),
            stage_seconds=Histogram(
                "processor_stage_seconds",
                "Time per batch spent in each stage.",
                ["stage"],
                buckets=_LATENCY_BUCKETS,
                registry=r,
            ),
            end_to_end_seconds=Histogram(
                "processor_end_to_end_seconds",
                "From the input record's Kafka timestamp to its output's commit.",
                ["event_type"],
                buckets=_LATENCY_BUCKETS,
                registry=r,
            ),
            score=Histogram("processor_score", "Model scores.", ["event_type"], buckets=_SCORE_BUCKETS, registry=r),
            reorder_buffered=Gauge(
                "processor_reorder_buffered_events", "Events held in the reorder buffer.", ["partition"], registry=r
            ),
            model_info=Gauge(
                "processor_model_info",
                "Active model version per event type (value 1).",
                ["event_type", "version"],
                registry=r,
            ),
            killswitch=Gauge(
                "processor_killswitch_engaged",
                "1 for the kill-switch mode in force per scope (global or an event type), 0 for the others.",
                ["scope", "mode"],
                registry=r,
            ),
            killswitch_since=Gauge(
                "processor_killswitch_since_timestamp_seconds",
                "When the kill switch in force per scope was engaged (0 when off or unknown); the reason is logged.",
                ["scope"],
                registry=r,
            ),
            killswitched_events=Counter(
                "processor_killswitched_events_total",
                "Events decided without the model because the kill switch was engaged.",
                ["event_type"],
                registry=r,
            ),
            healthy=Gauge("processor_healthy", "1 while the loop is running and its dependencies answer.", registry=r),
        )
