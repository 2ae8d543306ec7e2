"""Reference histograms built by the training code itself, from data a test draws."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from processor.training.training import _reference

MetadataFactory = Callable[..., dict[str, Any]]
FEATURES = ("amount", "flag", "code")


def normal_traffic(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(features, scores) of the 'normal' population the references describe."""
    amount = rng.lognormal(3.0, 0.5, n)
    flag = (rng.random(n) < 0.3).astype(np.float64)
    code = rng.integers(0, 6, n).astype(np.float64)
    code[rng.random(n) < 0.05] = np.nan  # a field that is sometimes missing
    scores = rng.beta(2.0, 5.0, n)
    return np.column_stack([amount, flag, code]), scores


@pytest.fixture
def metadata() -> MetadataFactory:
    """An artifact's metadata with ``reference`` histograms of 20,000 normal rows, as training writes them."""

    def make(version: str = "v1", seed: int = 0) -> dict[str, Any]:
        features, scores = normal_traffic(np.random.default_rng(seed), 20_000)
        return {
            "version": version,
            "feature_names": list(FEATURES),
            "reference": {
                "features": {name: _reference(features[:, j]) for j, name in enumerate(FEATURES)},
                "score": _reference(scores),
            },
        }

    return make
