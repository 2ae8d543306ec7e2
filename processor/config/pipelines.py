"""The per-event-type pipeline file (``pipelines.yaml``): checks, decision bands, rules, models."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from processor.config.base import FROZEN, format_validation_error
from processor.errors import ConfigError


class FieldCheck(BaseModel):
    """A semantic check on one field; every key that is set must hold."""

    model_config = FROZEN

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

    model_config = FROZEN

    min_score: float = Field(ge=0.0, le=1.0)
    decision: str
    category: str | None = None


class ReviewBand(BaseModel):
    """Scores in ``[low, high)`` are not confident enough to act on: a human decides."""

    model_config = FROZEN

    low: float = Field(ge=0.0, le=1.0)
    high: float = Field(ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _ordered(self) -> ReviewBand:
        if self.low > self.high:
            raise ValueError(f"low ({self.low}) must not exceed high ({self.high})")
        return self


class FallbackPolicy(BaseModel):
    """What happens when no model can score (no artifact, model error, latency budget blown)."""

    model_config = FROZEN

    decision: str = "review"
    category: str | None = "unscored"
    route: Literal["scored", "review"] = "review"


class DecisionPolicy(BaseModel):
    model_config = FROZEN

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
    model_config = FROZEN

    #: Schema base name in schemas/input (``<schema>.v<N>.avsc``); defaults to the event type.
    schema_name: str | None = Field(default=None, alias="schema")
    #: Feature module: a dotted module path, or a name looked up in the project's features/, the
    #: ``processor.features`` entry points, then the package's examples; defaults to the event type.
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
    #: Which model ``processor train`` saves and the worker serves: LightGBM, or a logistic
    #: regression applied with numpy (for jira_ticket_created, ``make eval``'s rolling folds decide).
    model: Literal["lightgbm", "logistic_regression"] = "lightgbm"


class PipelinesConfig(BaseModel):
    model_config = FROZEN

    event_types: dict[str, EventTypeConfig] = Field(min_length=1)


def load_pipelines(path: Path) -> PipelinesConfig:
    """Read and validate the pipeline file; errors name the file and the bad field."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(
            "pipelines_file_missing",
            f"pipeline config {path} does not exist: run from your project directory, or name it with "
            "--project DIR or PROCESSOR_PROJECT_DIR (`processor init DIR --event-type NAME` writes a new one)",
        ) from exc
    except yaml.YAMLError as exc:
        raise ConfigError("pipelines_file_invalid", f"{path} is not valid YAML: {exc}") from exc
    try:
        return PipelinesConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError("pipelines_file_invalid", f"{path}: {format_validation_error(exc)}") from exc
