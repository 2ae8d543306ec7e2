"""What one batch did: the pipeline fills it, the loop turns it into totals and metrics, the monitor
reads it, all once the batch's transaction commits.

Its own module, below both processor.pipeline (which fills it) and processor.monitoring (which
reads it), so neither imports the other (docs/design.md §10).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from processor.messages import Scored
    from processor.serving.shadow import ShadowResult


@dataclass(frozen=True, slots=True)
class DriftSample:
    """One model call's inputs and outputs: a batch's feature matrix of one type and its scores."""

    event_type: str
    model_version: str | None
    features: npt.NDArray[np.float64]
    scores: npt.NDArray[np.float64] | None


@dataclass(slots=True)
class BatchStats:
    """What a batch did; turned into metrics and run totals only once its transaction commits."""

    inputs: int = 0
    outcomes: Counter[tuple[str, str]] = field(default_factory=Counter)  # (event_type, outcome)
    quarantined: Counter[tuple[str, str]] = field(default_factory=Counter)  # (stage, code)
    duplicates: Counter[str] = field(default_factory=Counter)
    late: Counter[tuple[str, str]] = field(default_factory=Counter)
    coercions: Counter[str] = field(default_factory=Counter)
    decisions: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    model_failures: Counter[tuple[str, str]] = field(default_factory=Counter)
    scores: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    ingest_ms: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    stage_seconds: dict[str, float] = field(default_factory=dict)
    samples: list[Scored] = field(default_factory=list)
    answered: list[tuple[int, int]] = field(default_factory=list)  # (partition, offset) given an output
    killswitched: Counter[str] = field(default_factory=Counter)
    event_ms: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))  # occurred_at of outputs
    drift: list[DriftSample] = field(default_factory=list)  # each model call's matrix and scores
    shadow: list[ShadowResult] = field(default_factory=list)  # shadow-model comparisons
