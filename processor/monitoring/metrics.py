"""All metrics of the processor, built by one factory on a given registry (tests use a fresh one).

Label sets are bounded: event types come from the pipeline config (anything else is
``unknown``), stages and error codes from the code, partitions from the topic.
"""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
_SCORE_BUCKETS = tuple(i / 10 for i in range(1, 11))
_CONFIDENCE_BUCKETS = (0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 0.99, 1.0)
#: Event time to output spans producer buffering and late deliveries: seconds to a day.
_EVENT_LAG_BUCKETS = (0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0, 21600.0, 86400.0)


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
    input_events: Counter
    event_time_lag_seconds: Histogram
    confidence: Histogram
    consumer_lag: Gauge
    dependency_up: Gauge
    quality: QualityMetrics

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
            input_events=Counter(
                "processor_input_events_total",
                "Inputs by topic and event type (unknown: undecodable or of no configured type).",
                ["topic", "event_type"],
                registry=r,
            ),
            event_time_lag_seconds=Histogram(
                "processor_event_time_lag_seconds",
                "From the event's own time (occurred_at) to its output's commit: producer delay plus ours.",
                ["event_type"],
                buckets=_EVENT_LAG_BUCKETS,
                registry=r,
            ),
            confidence=Histogram(
                "processor_confidence",
                "Model confidence, max(score, 1 - score), of scored events.",
                ["event_type"],
                buckets=_CONFIDENCE_BUCKETS,
                registry=r,
            ),
            consumer_lag=Gauge(
                "processor_consumer_lag_messages",
                "Input messages behind the partition's end (high watermark minus committed position).",
                ["partition"],
                registry=r,
            ),
            dependency_up=Gauge(
                "processor_dependency_up",
                "1 while a dependency (redis, kafka, schema_registry) answers, 0 while the processor waits for it.",
                ["dependency"],
                registry=r,
            ),
            quality=QualityMetrics.create(r),
        )


@dataclass(frozen=True)
class QualityMetrics:
    """Drift, data quality and silent-failure gauges (processor/monitoring/monitor.py sets them).

    ``feature`` values come from the feature modules' fixed ``FEATURE_NAMES``, ``detector`` from
    ``processor.monitoring.detectors.DETECTORS``: bounded by the code, never by the data.
    """

    feature_psi: Gauge
    feature_js_distance: Gauge
    feature_null_ratio: Gauge
    feature_reference_null_ratio: Gauge
    feature_out_of_range_ratio: Gauge
    feature_constant: Gauge
    score_psi: Gauge
    score_js_distance: Gauge
    score_stddev: Gauge
    window_events: Gauge
    quarantine_ratio: Gauge
    silent_failure: Gauge
    evaluations: Counter

    @classmethod
    def create(cls, r: CollectorRegistry) -> QualityMetrics:
        def gauge(name: str, doc: str, labels: list[str]) -> Gauge:
            return Gauge(name, doc, labels, registry=r)

        feature = ["event_type", "feature"]
        return cls(
            feature_psi=gauge(
                "processor_feature_psi",
                "Population stability index of a feature over the drift window against the active model's training "
                "reference (nulls as a bin; NaN until the window holds enough events).",
                feature,
            ),
            feature_js_distance=gauge(
                "processor_feature_js_distance",
                "Jensen-Shannon distance (base 2, 0..1) of a feature's window histogram from its training reference.",
                feature,
            ),
            feature_null_ratio=gauge(
                "processor_feature_null_ratio", "Share of events in the drift window with the feature missing.", feature
            ),
            feature_reference_null_ratio=gauge(
                "processor_feature_reference_null_ratio",
                "Share of training rows with the feature missing (the baseline of processor_feature_null_ratio).",
                feature,
            ),
            feature_out_of_range_ratio=gauge(
                "processor_feature_out_of_range_ratio",
                "Share of events in the drift window with the feature outside the training range.",
                feature,
            ),
            feature_constant=gauge(
                "processor_feature_constant",
                "1 when a feature that varied in training has shown a single value (or only nulls) for the whole window.",
                feature,
            ),
            score_psi=gauge(
                "processor_score_psi",
                "Population stability index of the model score over the drift window against the validation reference.",
                ["event_type"],
            ),
            score_js_distance=gauge(
                "processor_score_js_distance",
                "Jensen-Shannon distance (base 2, 0..1) of the window's score histogram from the reference.",
                ["event_type"],
            ),
            score_stddev=gauge(
                "processor_score_stddev", "Standard deviation of the model score over the drift window.", ["event_type"]
            ),
            window_events=gauge(
                "processor_drift_window_events",
                "Events in the drift window (the drift gauges read NaN below the configured minimum).",
                ["event_type"],
            ),
            quarantine_ratio=gauge(
                "processor_quarantine_ratio",
                "Share of a type's inputs quarantined, over the recent window and over the baseline before it.",
                ["event_type", "window"],
            ),
            silent_failure=gauge(
                "processor_silent_failure",
                "1 while a silent-failure detector fires (score_collapsed, feature_constant, volume_stopped, "
                "quarantine_jump).",
                ["event_type", "detector"],
            ),
            evaluations=Counter(
                "processor_monitor_evaluations_total",
                "Drift and detector evaluations (the gauges above are as fresh as the last one).",
                registry=r,
            ),
        )
