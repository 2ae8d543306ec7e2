"""The contract of a feature module: the same code computes features in training and in serving.

A feature module is a Python module in ``processor.model.features`` named after the event type
(or as the pipeline config says) that defines:

- ``HISTORY``: a tuple of ``HistoryCounter``: per-entity (or per-key) history features. The
  serving path keeps them in Redis sorted sets, training in memory; both count the events with
  the same key whose event time lies in ``[t - window, t)``: strictly earlier than the event
  itself, so no feature looks past the event it describes and a replay adds nothing.
- ``FEATURE_NAMES``: the names of the feature vector, in order (history counter names included).
- ``compute(record, history) -> list[float]``: the vector for one validated record, given the
  history counts by counter name. Missing values are ``math.nan`` (LightGBM's missing value).
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Protocol, cast

from processor.errors import ConfigError


@dataclass(frozen=True, slots=True)
class HistoryCounter:
    name: str  # feature name, e.g. "signups_same_ip_1h"
    key_field: str  # record field whose value keys the history, e.g. "ip_address"
    window_ms: int


class FeatureModule(Protocol):
    HISTORY: tuple[HistoryCounter, ...]
    FEATURE_NAMES: tuple[str, ...]

    def compute(self, record: Mapping[str, Any], history: Mapping[str, int]) -> list[float]: ...


def load_feature_module(name: str) -> FeatureModule:
    try:
        module: ModuleType = importlib.import_module(f"processor.model.features.{name}")
    except ModuleNotFoundError as exc:
        raise ConfigError("unknown_feature_module", f"no feature module processor.model.features.{name}") from exc
    for attr in ("HISTORY", "FEATURE_NAMES", "compute"):
        if not hasattr(module, attr):
            raise ConfigError("invalid_feature_module", f"feature module {name} lacks {attr}")
    return cast(FeatureModule, module)


def history_key_value(record: Mapping[str, Any], counter: HistoryCounter) -> str | None:
    """The history key of a record for one counter; None (no history) when the field is empty."""
    value = record.get(counter.key_field)
    if value is None or value == "":
        return None
    return str(value)


NAN = math.nan
