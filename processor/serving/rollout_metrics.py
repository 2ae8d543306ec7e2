"""Metrics of model rollout: versions loaded or refused, and how a shadow model compares.

Built by a factory on a given ``CollectorRegistry`` like every metric of the processor. Labels are
bounded: event types from the pipeline config, refusal reasons from ``ArtifactError`` codes, roles
``active``/``shadow``; the version label appears only on the info gauges (one series per loaded
version, removed when it is swapped out).
"""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

_DIFF_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0)


@dataclass(frozen=True)
class RolloutMetrics:
    registry: CollectorRegistry
    loads: Counter
    refused: Counter
    shadow_info: Gauge
    shadow_scored: Counter
    shadow_agreements: Counter
    shadow_agreement_rate: Gauge
    shadow_score_diff: Histogram

    @classmethod
    def create(cls, registry: CollectorRegistry | None = None) -> RolloutMetrics:
        r = registry if registry is not None else CollectorRegistry()
        return cls(
            registry=r,
            loads=Counter(
                "processor_model_loads_total",
                "Model versions loaded and switched to, by role (active, shadow).",
                ["event_type", "role"],
                registry=r,
            ),
            refused=Counter(
                "processor_model_refused_total",
                "Model versions refused at load (checksum_mismatch, feature_mismatch, load_error...); the "
                "previous model keeps serving.",
                ["event_type", "reason"],
                registry=r,
            ),
            shadow_info=Gauge(
                "processor_model_shadow_info",
                "Shadow model version per event type (value 1).",
                ["event_type", "version"],
                registry=r,
            ),
            shadow_scored=Counter(
                "processor_shadow_scored_total", "Events scored by the shadow model.", ["event_type"], registry=r
            ),
            shadow_agreements=Counter(
                "processor_shadow_agreements_total",
                "Events where the shadow model's outcome (band decision or review) equals the active model's.",
                ["event_type"],
                registry=r,
            ),
            shadow_agreement_rate=Gauge(
                "processor_shadow_agreement_rate",
                "Agreement rate of shadow and active outcomes since the shadow version was loaded.",
                ["event_type"],
                registry=r,
            ),
            shadow_score_diff=Histogram(
                "processor_shadow_score_abs_diff",
                "Absolute difference between shadow and active scores, per event.",
                ["event_type"],
                buckets=_DIFF_BUCKETS,
                registry=r,
            ),
        )
