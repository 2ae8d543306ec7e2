"""The baselines a model must beat, trained in the same run on the same rows and features.

- **class prior**: every row scored with the training positive rate (knows nothing; its ROC AUC is
  0.5 and its log loss is the label entropy);
- **logistic regression**: the same feature matrix, missing values imputed with the training median
  plus a missing-indicator column, standardised, L2-regularised (scikit-learn's ``lbfgs``). If the
  boosted trees do not beat it, their extra complexity buys nothing.

The logistic regression can also be served, when it wins the rolling evaluation (``make eval``)
and the pipeline names ``model: logistic_regression``: ``fit_logistic_regression`` returns it as a
``LinearModel``, plain numbers that serving applies with numpy (no scikit-learn at serve time).
"""

from __future__ import annotations

import warnings

import numpy as np
import numpy.typing as npt
from sklearn.exceptions import ConvergenceWarning
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from processor.errors import ProcessorError
from processor.serving.linear import LinearModel

Matrix = npt.NDArray[np.float64]


def class_prior_scores(y_train: npt.NDArray[np.float64], n: int) -> npt.NDArray[np.float64]:
    return np.full(n, float(y_train.mean()), dtype=np.float64)


def logistic_regression_scores(
    x_train: Matrix, y_train: npt.NDArray[np.float64], x_valid: Matrix, seed: int, c: float = 1.0
) -> npt.NDArray[np.float64]:
    """Validation probabilities of a logistic regression fitted on the training rows."""
    names = tuple(f"f{j}" for j in range(x_train.shape[1]))
    return fit_logistic_regression(names, x_train, y_train, seed, c).predict(x_valid)


def fit_logistic_regression(
    names: tuple[str, ...], x_train: Matrix, y_train: npt.NDArray[np.float64], seed: int, c: float = 1.0
) -> LinearModel:
    """Fit the pipeline, then keep it as a ``LinearModel``, checked to score as scikit-learn does."""
    imputer = SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True)
    scaler = StandardScaler()
    regression = LogisticRegression(C=c, max_iter=2000, random_state=seed)
    model = make_pipeline(imputer, scaler, regression)
    with warnings.catch_warnings():
        # a few thousand rows converge; if lbfgs stops early the scores are still a fair baseline
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(x_train, y_train.astype(np.int64))
    indicator = imputer.indicator_
    linear = LinearModel(
        feature_names=names,
        medians=tuple(float(v) for v in imputer.statistics_),
        indicator_columns=tuple(int(i) for i in indicator.features_) if indicator is not None else (),
        means=tuple(float(v) for v in scaler.mean_),
        scales=tuple(float(v) for v in scaler.scale_),
        coef=tuple(float(v) for v in regression.coef_[0]),
        intercept=float(regression.intercept_[0]),
        c=c,
    )
    expected = np.asarray(model.predict_proba(x_train)[:, 1], dtype=np.float64)
    if not np.allclose(linear.predict(x_train), expected, rtol=0.0, atol=1e-9):
        raise ProcessorError(
            "model_roundtrip_mismatch", "the linear model does not reproduce scikit-learn's probabilities"
        )
    return linear
