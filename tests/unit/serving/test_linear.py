"""The servable logistic regression: fitted with scikit-learn, kept as numbers, applied with numpy.

``make eval`` may find that the logistic regression wins; serving must then apply it without
scikit-learn. These tests train one through ``train_model`` (``model_kind``), check the numpy
formula against scikit-learn, and have the worker load and score the artifact.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest

from processor.config import PipelinesConfig, load_settings
from processor.features import load_feature_module
from processor.serving.artifact import MODEL_FILE
from processor.serving.linear import LinearModel, LinearModelError
from processor.serving.loading import load_model
from processor.serving.worker import ModelWorker
from processor.training.baselines import fit_logistic_regression
from processor.training.training import Preset, train_model

NOW = datetime(2024, 7, 15, tzinfo=UTC)


def _data(n: int = 300, seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4))
    x[:, 3] = 5.0  # a constant column: scale 1, no information
    x[rng.random(n) < 0.2, 1] = np.nan  # missing values: median plus an indicator column
    logit = 1.5 * x[:, 0] - np.nan_to_num(x[:, 1]) + 0.3 * x[:, 2]
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.float64)
    return x, y


def test_numpy_formula_reproduces_scikit_learn_with_missing_values_and_a_constant_column() -> None:
    x, y = _data()
    model = fit_logistic_regression(("a", "b", "c", "d"), x, y, seed=7, c=0.5)  # checks itself on x
    assert model.indicator_columns == (1,)  # only the column with missing values gets an indicator
    again = LinearModel.from_text(model.to_text())
    assert again == model
    fresh, _ = _data(50, seed=9)
    assert np.allclose(again.predict(fresh), model.predict(fresh), rtol=0, atol=0)
    assert np.all((again.predict(fresh) > 0) & (again.predict(fresh) < 1))


def test_a_bad_linear_model_text_is_refused_with_a_reason() -> None:
    x, y = _data()
    text = fit_logistic_regression(("a", "b", "c", "d"), x, y, seed=7).to_text()
    data = orjson.loads(text)
    with pytest.raises(LinearModelError, match="coef"):
        LinearModel.from_text(orjson.dumps({**data, "coef": data["coef"][:-1]}).decode())
    with pytest.raises(LinearModelError, match="not a logistic_regression"):
        LinearModel.from_text(orjson.dumps({**data, "kind": "lightgbm"}).decode())
    with pytest.raises(LinearModelError, match="not JSON"):
        LinearModel.from_text("tree\nversion=v4\n")
    model = LinearModel.from_text(text)
    with pytest.raises(LinearModelError, match="expected"):
        model.predict(np.zeros((2, 3)))


def _train_linear(tmp_path: Path, pipelines: PipelinesConfig, jsonl: Any, make_signups: Any, **kw: Any) -> Any:
    path = jsonl(tmp_path / "events.jsonl", make_signups(400))
    settings = load_settings(models={"dir": tmp_path / "models"})
    return train_model(
        event_type="user_signed_up",
        events_path=path,
        settings=settings,
        pipelines=pipelines,
        now=NOW,
        model_kind="logistic_regression",
        **kw,
    )


def test_a_logistic_regression_artifact_is_saved_loaded_and_scored_by_the_worker(
    tmp_path: Path, pipelines: PipelinesConfig, jsonl: Any, make_signups: Any
) -> None:
    result = _train_linear(tmp_path, pipelines, jsonl, make_signups)
    assert result.model_kind == "logistic_regression"
    assert set(result.baselines) == {"class_prior", "lightgbm"}  # the other kind is the baseline now
    meta = result.artifact.metadata()
    assert meta["model_kind"] == "logistic_regression" and meta["params"]["C"] in (0.01, 0.1, 1.0)
    assert meta["feature_importance"]["type"] == "abs_standardised_coef"
    module = load_feature_module("user_signed_up")
    loaded = load_model(result.artifact, module)
    assert isinstance(loaded.booster, LinearModel)

    worker = ModelWorker(
        result.artifact.path.parent.parent, {"user_signed_up": module}, reload_interval_s=1, latency_budget_ms=5_000
    )
    features = np.zeros((3, len(module.FEATURE_NAMES)))
    scored = worker.score("user_signed_up", features)
    worker.close()
    assert scored.model_version == result.artifact.version and scored.scores is not None
    assert np.allclose(scored.scores, loaded.booster.predict(features))


def test_a_preset_skips_the_inner_selection(
    tmp_path: Path, pipelines: PipelinesConfig, jsonl: Any, make_signups: Any
) -> None:
    result = _train_linear(tmp_path, pipelines, jsonl, make_signups, preset=Preset("regularised", 40, 0.1))
    meta = result.artifact.metadata()
    assert meta["params"] == {"C": 0.1} and meta["best_iteration"] == 40
    assert meta["model_selection"]["chosen"] == "regularised" and "preset" in meta["model_selection"]["method"]


def test_a_tampered_linear_model_is_refused(
    tmp_path: Path, pipelines: PipelinesConfig, jsonl: Any, make_signups: Any
) -> None:
    result = _train_linear(tmp_path, pipelines, jsonl, make_signups)
    model_file = result.artifact.path / MODEL_FILE
    model_file.write_text(model_file.read_text().replace('"intercept": ', '"intercept": 1'))
    worker = ModelWorker(
        result.artifact.path.parent.parent,
        {"user_signed_up": load_feature_module("user_signed_up")},
        reload_interval_s=1,
        latency_budget_ms=5_000,
    )
    assert worker.versions == {}
    assert "checksum" in worker.load_errors["user_signed_up"]
    worker.close()


def test_applying_a_linear_model_needs_no_scikit_learn_nor_scipy() -> None:
    """The linear model's module stands alone; the worker never reaches the training-side fit."""
    code = (
        "import sys; import processor.serving.linear; "
        "bad = [m for m in ('sklearn', 'scipy', 'lightgbm') if m in sys.modules]; assert not bad, bad; "
        "import processor.serving.worker; "
        "bad = [m for m in ('processor.training.baselines', 'processor.training.training') if m in sys.modules]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
