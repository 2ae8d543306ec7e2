"""The baselines a model must beat, trained in the same run on the same rows and features.

- **class prior**: every row scored with the training positive rate (knows nothing; its ROC AUC is
  0.5 and its log loss is the label entropy);
- **logistic regression**: the same feature matrix, missing values imputed with the training median
  plus a missing-indicator column, standardised, L2-regularised (scikit-learn's ``lbfgs``). If the
  boosted trees do not beat it, their extra complexity buys nothing.

Baselines are reported, never served: they exist so a number in the report means something.
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

Matrix = npt.NDArray[np.float64]


def class_prior_scores(y_train: npt.NDArray[np.float64], n: int) -> npt.NDArray[np.float64]:
    return np.full(n, float(y_train.mean()), dtype=np.float64)


def logistic_regression_scores(
    x_train: Matrix, y_train: npt.NDArray[np.float64], x_valid: Matrix, seed: int
) -> npt.NDArray[np.float64]:
    """Validation probabilities of a logistic regression fitted on the training rows."""
    model = make_pipeline(
        SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True),
        StandardScaler(),
        LogisticRegression(C=1.0, max_iter=2000, random_state=seed),
    )
    with warnings.catch_warnings():
        # a few thousand rows converge; if lbfgs stops early the scores are still a fair baseline
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(x_train, y_train.astype(np.int64))
    return np.asarray(model.predict_proba(x_valid)[:, 1], dtype=np.float64)
