"""Configuration: one frozen settings object, and the per-event-type pipeline file.

Environment variables are read here and nowhere else: ``PROCESSOR_`` prefix, nested with ``__``
(``PROCESSOR_KAFKA__BOOTSTRAP_SERVERS``). A YAML config file may supply the same keys; the
environment wins over the file, the file over the defaults.
"""

from __future__ import annotations

import re
import socket
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from processor.errors import ConfigError

#: The source tree (or installed data) root: schemas/ and config/ live beside the package.
PROJECT_ROOT = Path(__file__).resolve().parent.parent

_Frozen = ConfigDict(frozen=True, extra="forbid")


class KafkaSettings(BaseModel):
    model_config = _Frozen

    bootstrap_servers: str = "localhost:9092"
    group_id: str = "processor"
    #: Stable per process so a restarted process fences its crashed predecessor at once;
    #: defaults to ``<group_id>-<hostname>``. Give each process of a scaled-out group its own.
    transactional_id: str | None = None
    transaction_timeout_ms: int = Field(default=60_000, ge=1_000)
    #: Static group membership (``group.instance.id`` = the transactional id): a process restarted
    #: after a crash takes its partitions straight back instead of waiting out the session timeout.
    static_membership: bool = True
    session_timeout_ms: int = Field(default=15_000, ge=1_000)
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: str | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    #: Extra librdkafka properties passed to every client, for what this object does not name.
    extra: dict[str, str] = Field(default_factory=dict)

    def effective_transactional_id(self) -> str:
        return self.transactional_id or f"{self.group_id}-{socket.gethostname()}"

    def client_config(self) -> dict[str, Any]:
        conf: dict[str, Any] = {
            "bootstrap.servers": self.bootstrap_servers,
            "security.protocol": self.security_protocol,
        }
        if self.sasl_mechanism:
            conf["sasl.mechanism"] = self.sasl_mechanism
        if self.sasl_username:
            conf["sasl.username"] = self.sasl_username
        if self.sasl_password is not None:
            conf["sasl.password"] = self.sasl_password.get_secret_value()
        conf.update(self.extra)
        return conf


class RedisSettings(BaseModel):
    model_config = _Frozen

    url: str = "redis://localhost:6379/0"
    password: SecretStr | None = None
    #: Every key this processor writes starts with this prefix.
    key_prefix: str = "proc:"
    socket_timeout_s: float = Field(default=5.0, gt=0)


class TopicsSettings(BaseModel):
    model_config = _Frozen

    raw: str = "events.raw"
    scored: str = "events.scored"
    review: str = "events.review"
    quarantine: str = "events.quarantine"
    feedback: str = "events.feedback"
    raw_partitions: int = Field(default=6, ge=1)
    output_partitions: int = Field(default=6, ge=1)
    replication_factor: int = Field(default=1, ge=1)


class ModelsSettings(BaseModel):
    model_config = _Frozen

    dir: Path = PROJECT_ROOT / "models"
    #: How often a running processor re-reads the registry (promote/rollback/shadow take effect
    #: at the next batch boundary after this; the issue asks for under 5 s).
    reload_interval_s: float = Field(default=1.0, gt=0)
    #: Topic for shadow-model comparisons (schemas/output/shadow.avsc); none: metrics only.
    shadow_topic: str | None = None
    #: A batch whose model call takes longer than this is decided by fallback rules instead.
    latency_budget_ms: int = Field(default=2_000, ge=1)


class TrainingSettings(BaseModel):
    """The guards of ``processor train`` (each can be overridden per run with a CLI flag)."""

    model_config = _Frozen

    #: Refuse data whose newest event is older than this (``--allow-stale``).
    max_data_age_days: float = Field(default=30.0, gt=0)
    #: Fewest labelled rows, and fewest of the rarer class, worth a model (``--allow-few-labels``).
    min_labelled_rows: int = Field(default=200, ge=2)
    min_minority_rows: int = Field(default=20, ge=1)
    #: One feature alone with |AUC - 0.5| above this on the training rows is a leak (``--allow-leaky``).
    leakage_auc_margin: float = Field(default=0.48, gt=0, le=0.5)
    #: Train/validation shift (``--allow-shift``): a feature's PSI above this, or positive rates
    #: whose ratio exceeds ``label_shift_ratio`` (with at least 3 standard errors between them).
    shift_psi_threshold: float = Field(default=1.0, gt=0)
    label_shift_ratio: float = Field(default=3.0, gt=1)


class ProcessingSettings(BaseModel):
    model_config = _Frozen

    #: Most messages consumed and committed as one transaction.
    batch_size: int = Field(default=1_000, ge=1, le=100_000)
    #: Longest wait for a batch to fill: bounds latency (a transaction at least this often under load).
    batch_timeout_ms: int = Field(default=200, ge=1)
    max_message_bytes: int = Field(default=1_000_000, ge=1_024)
    max_json_depth: int = Field(default=32, ge=2)
    #: Reorder watermark = max event time seen (per partition and type) minus this.
    allowed_lateness_ms: int = Field(default=5_000, ge=0)
    #: A (partition, type) with no new event for this long releases everything it holds.
    idle_timeout_ms: int = Field(default=2_000, ge=1)
    #: Events timestamped further than this in the future are rejected (and never move the watermark).
    max_future_skew_ms: int = Field(default=86_400_000, ge=0)
    dedupe_ttl_s: int = Field(default=7 * 86_400, ge=1)
    #: Kill-switch state assumed at start-up until Redis has been read once.
    killswitch_default: Literal["off", "fallback", "review"] = "off"
    #: How often every processor re-reads the kill-switch keys (propagation well under a second).
    killswitch_poll_ms: int = Field(default=500, ge=50, le=1_000)


class MetricsSettings(BaseModel):
    model_config = _Frozen

    enabled: bool = True
    host: str = "0.0.0.0"
    port: int = Field(default=9108, ge=0, le=65_535)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="PROCESSOR_",
        env_nested_delimiter="__",
        frozen=True,
        extra="forbid",
    )

    kafka: KafkaSettings = KafkaSettings()
    redis: RedisSettings = RedisSettings()
    topics: TopicsSettings = TopicsSettings()
    models: ModelsSettings = ModelsSettings()
    processing: ProcessingSettings = ProcessingSettings()
    training: TrainingSettings = TrainingSettings()
    metrics: MetricsSettings = MetricsSettings()
    schemas_dir: Path = PROJECT_ROOT / "schemas"
    pipelines_file: Path = PROJECT_ROOT / "config" / "pipelines.yaml"
    log_level: str = "INFO"

    # Set by load_settings() before construction; a class attribute because pydantic-settings
    # builds its sources from the class.
    _config_file: Path | None = None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = cls._config_file
        if config_file is not None:
            sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=config_file))
        return tuple(sources)


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Build the settings from overrides, the environment and an optional YAML file."""
    if config_file is not None and not config_file.is_file():
        raise ConfigError("config_file_missing", f"config file {config_file} does not exist")
    Settings._config_file = config_file
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError("invalid_settings", _format_validation_error(exc)) from exc
    except (yaml.YAMLError, ValueError, TypeError) as exc:  # an unreadable or non-mapping YAML file
        raise ConfigError("invalid_settings", f"{config_file}: {exc}") from exc
    finally:
        Settings._config_file = None


# --------------------------------------------------------------------------------------------
# Per-event-type pipeline configuration (config/pipelines.yaml)
# --------------------------------------------------------------------------------------------


class FieldCheck(BaseModel):
    """A semantic check on one field; every key that is set must hold."""

    model_config = _Frozen

    field: str
    min: float | None = None
    max: float | None = None
    pattern: str | None = None
    one_of: list[str] | None = None
    max_length: int | None = Field(default=None, ge=0)

    @field_validator("pattern")
    @classmethod
    def _pattern_compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"pattern does not compile: {exc}") from exc
        return value


class Band(BaseModel):
    """Scores at or above ``min_score`` (and below the next band up) get this decision."""

    model_config = _Frozen

    min_score: float = Field(ge=0.0, le=1.0)
    decision: str
    category: str | None = None


class ReviewBand(BaseModel):
    """Scores in ``[low, high)`` are not confident enough to act on: a human decides."""

    model_config = _Frozen

    low: float = Field(ge=0.0, le=1.0)
    high: float = Field(ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _ordered(self) -> ReviewBand:
        if self.low > self.high:
            raise ValueError(f"low ({self.low}) must not exceed high ({self.high})")
        return self


class FallbackPolicy(BaseModel):
    """What happens when no model can score (no artifact, model error, latency budget blown)."""

    model_config = _Frozen

    decision: str = "review"
    category: str | None = "unscored"
    route: Literal["scored", "review"] = "review"


class DecisionPolicy(BaseModel):
    model_config = _Frozen

    bands: list[Band] = Field(min_length=1)
    review_band: ReviewBand | None = None
    fallback: FallbackPolicy = FallbackPolicy()

    @model_validator(mode="after")
    def _covers_zero(self) -> DecisionPolicy:
        if not any(b.min_score == 0.0 for b in self.bands):
            raise ValueError("bands must include one with min_score 0.0 so every score gets a decision")
        return self

    def sorted_bands(self) -> list[Band]:
        return sorted(self.bands, key=lambda b: b.min_score, reverse=True)


class EventTypeConfig(BaseModel):
    model_config = _Frozen

    #: Schema base name in schemas/input (``<schema>.v<N>.avsc``); defaults to the event type.
    schema_name: str | None = Field(default=None, alias="schema")
    #: Feature module in processor.model.features; defaults to the event type.
    features: str | None = None
    validation: Literal["strict", "tolerant"] = "strict"
    late_policy: Literal["flag", "quarantine"] = "flag"
    checks: list[FieldCheck] = Field(default_factory=list)
    decision: DecisionPolicy
    #: Rule overrides, in evaluation order (first match wins); compiled and checked at start-up
    #: against the schema and the feature module (processor/decide/rules.py).
    rules: list[dict[str, Any]] = Field(default_factory=list)
    #: Send an event to review (``review_reason=feature_out_of_range:<feature>``) when one of its
    #: features lies outside the range the active model saw in training: the model is guessing.
    escalate_out_of_range: bool = False
    #: The label the model predicts (positive class) in training data.
    positive_label: str = "positive"


class PipelinesConfig(BaseModel):
    model_config = _Frozen

    event_types: dict[str, EventTypeConfig] = Field(min_length=1)


def load_pipelines(path: Path) -> PipelinesConfig:
    """Read and validate the pipeline file; errors name the file and the bad field."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError("pipelines_file_missing", f"pipeline config {path} does not exist") from exc
    except yaml.YAMLError as exc:
        raise ConfigError("pipelines_file_invalid", f"{path} is not valid YAML: {exc}") from exc
    try:
        return PipelinesConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError("pipelines_file_invalid", f"{path}: {_format_validation_error(exc)}") from exc


def _format_validation_error(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "<root>"
        parts.append(f"{loc}: {err['msg']}")
    return "; ".join(parts)
