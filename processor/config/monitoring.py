"""Monitoring: the ``/metrics`` endpoint, drift, data-quality and silent-failure detection."""

from __future__ import annotations

from pydantic import BaseModel, Field

from processor.config.base import FROZEN


class MetricsSettings(BaseModel):
    model_config = FROZEN

    #: Serve ``/metrics`` (Prometheus), ``/healthz`` and ``/readyz`` over HTTP.
    enabled: bool = True
    #: Address to listen on.
    host: str = "0.0.0.0"
    #: Port of the metrics and health endpoint.
    port: int = Field(default=9108, ge=0, le=65_535)


class MonitoringSettings(BaseModel):
    """Drift, data-quality and silent-failure monitoring (processor/monitoring/)."""

    model_config = FROZEN

    enabled: bool = True
    #: Drift and data quality compare the last ``drift_window_s`` of scored events per type with
    #: the active model's reference histograms; the window slides in ``window_slots`` steps.
    drift_window_s: float = Field(default=900.0, gt=0)
    window_slots: int = Field(default=15, ge=2, le=600)
    #: Fewer events than this in the window say nothing: drift gauges read NaN (no alert).
    min_window_events: int = Field(default=300, ge=1)
    #: How often the detectors and gauges are recomputed (also while no input arrives).
    evaluate_interval_s: float = Field(default=5.0, gt=0)
    #: Score standard deviation below this over the window: the score distribution collapsed.
    collapsed_score_std: float = Field(default=0.005, ge=0)
    #: A type that averaged at least this many events per minute over ``volume_baseline_s``
    #: and then had none for ``volume_quiet_s`` has stopped flowing.
    volume_baseline_s: float = Field(default=3_600.0, gt=0)
    volume_quiet_s: float = Field(default=300.0, gt=0)
    volume_min_per_minute: float = Field(default=1.0, gt=0)
    #: Quarantine share over ``quarantine_recent_s`` against the share over ``volume_baseline_s``:
    #: a jump is at least ``quarantine_jump_factor`` times the baseline and ``quarantine_jump_min``
    #: above it, over at least ``quarantine_min_events`` inputs.
    quarantine_recent_s: float = Field(default=300.0, gt=0)
    quarantine_jump_factor: float = Field(default=3.0, ge=1)
    quarantine_jump_min: float = Field(default=0.05, ge=0, le=1)
    quarantine_min_events: int = Field(default=100, ge=1)
