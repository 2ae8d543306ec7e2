"""Serving's ctypes binding to lib_lightgbm.so against the lightgbm package's own predictions."""

from __future__ import annotations

from pathlib import Path

import lightgbm as lgb
import numpy as np
import pytest

from processor.serving.native import NativeBooster, NativeModelError, library_path


def _model(tmp_path: Path, objective: str = "binary", seed: int = 3) -> Path:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(600, 7))
    x[rng.random(x.shape) < 0.05] = np.nan  # missing values take LightGBM's default direction
    y = ((x[:, 0] + np.nan_to_num(x[:, 3]) * 0.5 + rng.normal(scale=0.5, size=600)) > 0).astype(float)
    params = {"objective": objective, "num_leaves": 15, "verbose": -1, "seed": seed}
    booster = lgb.train(params, lgb.Dataset(x, label=y), num_boost_round=40)
    path = tmp_path / "model.txt"
    booster.save_model(str(path))
    return path


def test_scores_are_bit_identical_to_the_lightgbm_package(tmp_path: Path) -> None:
    path = _model(tmp_path)
    rng = np.random.default_rng(11)
    rows = rng.normal(scale=2.0, size=(1_000, 7))
    rows[rng.random(rows.shape) < 0.1] = np.nan
    reference = lgb.Booster(model_file=str(path))
    native = NativeBooster(path)
    assert native.num_feature() == reference.num_feature() == 7
    expected = reference.predict(rows, num_threads=1)
    got = native.predict(rows, num_threads=1)
    assert got.dtype == np.float64 and got.shape == (1_000,)
    assert np.array_equal(got, expected)
    # a Fortran-ordered or float32 batch is converted, not misread
    assert np.array_equal(native.predict(np.asfortranarray(rows)), expected)
    assert np.array_equal(native.predict(rows.astype(np.float32)), reference.predict(rows.astype(np.float32)))
    assert np.array_equal(native.predict(rows[:1]), expected[:1])


def test_a_regression_model_scores_like_the_package_too(tmp_path: Path) -> None:
    path = _model(tmp_path, objective="regression")
    rows = np.random.default_rng(5).normal(size=(50, 7))
    assert np.array_equal(NativeBooster(path).predict(rows), lgb.Booster(model_file=str(path)).predict(rows))


def test_lightgbm_errors_come_back_as_messages(tmp_path: Path) -> None:
    bad = tmp_path / "model.txt"
    bad.write_text("tree\nthis is not a model\n")
    with pytest.raises(NativeModelError) as err:
        NativeBooster(bad)
    assert err.value.code == "lightgbm_error" and str(err.value)
    with pytest.raises(NativeModelError):
        NativeBooster(tmp_path / "absent.txt")
    native = NativeBooster(_model(tmp_path))
    with pytest.raises(NativeModelError, match="feature"):
        native.predict(np.zeros((3, 4)))  # the model has 7 features
    with pytest.raises(ValueError, match="2-D"):
        native.predict(np.zeros(7))
    native.close()
    with pytest.raises(NativeModelError):
        native.predict(np.zeros((1, 7)))


def test_the_library_is_the_installed_wheel_s() -> None:
    path = library_path()
    assert path.name == "lib_lightgbm.so" and path.parent.name == "lib" and path.parent.parent.name == "lightgbm"
