"""Rolling-origin evaluation: which model to serve, decided on several time folds, then one untouched slice.

One held-out slice is too small to decide between two weak models (the Hadoop tickets' newest 20%
hold about 22 urgent tickets), and a held-out slice looked at while settling the parameters is no
longer held out. So, with rows in event-time order:

- the newest ``final_fraction`` of the rows is the **final slice**: nothing is chosen on it; it is
  scored once, at the end, by the models the folds chose;
- before it, ``folds`` consecutive **folds** of ``fold_fraction`` of the rows each. For each fold,
  every model is trained on all rows before the fold and scored on the fold;
- **hyper-parameters** are chosen inside each training part only: ``inner_folds`` consecutive
  validation blocks at the end of the training part (each ``inner_fraction`` of it), training on
  what precedes each block. LightGBM picks one of ``training.PARAM_SETS`` and its boosting rounds
  (early stopping on the inner block, scaled up to the training part's size); the logistic
  regression picks its ``C`` from ``LR_C``. The lowest mean inner log loss wins;
- the **winner** is declared before the final slice is scored: the model with the lowest mean log
  loss over the folds (log loss, because the decision bands read the scores as probabilities);
  a tie within ``TIE_LOG_LOSS`` goes to the logistic regression, the simpler model. The class
  prior is reported as the floor, never served.

Mean, standard deviation, minimum and maximum over the folds are reported for ROC AUC, PR AUC
(average precision), log loss and Brier score.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import lightgbm as lgb
import numpy as np
import numpy.typing as npt

from processor.serving.linear import LinearModel
from processor.training.baselines import fit_logistic_regression
from processor.training.metrics import average_precision, brier, log_loss, roc_auc
from processor.training.training import EARLY_STOPPING_ROUNDS, LR_C, PARAM_SETS, Preset, _params

Matrix = npt.NDArray[np.float64]
Vector = npt.NDArray[np.float64]

MODELS = ("lightgbm", "logistic_regression", "class_prior")
SERVABLE = ("lightgbm", "logistic_regression")
METRICS = ("roc_auc", "pr_auc", "log_loss", "brier")
LOWER_IS_BETTER = frozenset({"log_loss", "brier"})
TIE_LOG_LOSS = 1e-4
MAX_ROUNDS = 1000


@dataclass(frozen=True, slots=True)
class Protocol:
    folds: int = 5
    fold_fraction: float = 0.10
    final_fraction: float = 0.15
    inner_folds: int = 2
    inner_fraction: float = 0.15
    seed: int = 7

    def __post_init__(self) -> None:
        if self.folds < 1 or self.inner_folds < 1:
            raise ValueError("folds and inner_folds must be >= 1")
        if self.folds * self.fold_fraction + self.final_fraction >= 0.9:
            raise ValueError("the folds and the final slice leave under 10% of the rows for the first training part")


@dataclass(frozen=True, slots=True)
class Choice:
    """Hyper-parameters chosen on the inner folds of one training part."""

    lightgbm_set: str
    lightgbm_rounds: int
    lr_c: float
    inner: dict[str, float]  # candidate -> mean inner log loss

    def lightgbm_params(self, seed: int) -> dict[str, Any]:
        return _params(seed) | PARAM_SETS[self.lightgbm_set]

    def preset(self) -> Preset:
        return Preset(self.lightgbm_set, self.lightgbm_rounds, self.lr_c)

    def as_dict(self) -> dict[str, Any]:
        return {
            "lightgbm": {"param_set": self.lightgbm_set, "rounds": self.lightgbm_rounds},
            "logistic_regression": {"C": self.lr_c},
            "inner_log_loss": {k: round(v, 6) for k, v in self.inner.items()},
        }


@dataclass(frozen=True, slots=True)
class Fold:
    index: int
    train_rows: int
    start: int  # first row of the fold
    stop: int  # one past its last row
    positives: int
    choice: Choice
    metrics: dict[str, dict[str, float]]  # model -> metric -> value


@dataclass(slots=True)
class RollingResult:
    protocol: Protocol
    rows: int
    final_start: int
    folds: list[Fold] = field(default_factory=list)
    summary: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)  # model -> metric -> stat
    winner: str = ""
    final_choice: Choice | None = None  # chosen on the inner folds of everything before the final slice


def boundaries(times: npt.NDArray[np.int64], protocol: Protocol) -> tuple[list[tuple[int, int]], int]:
    """(start, stop) of each fold and the first row of the final slice; no boundary splits equal times."""
    n = times.size
    final_start = _snap(times, n - round(n * protocol.final_fraction))
    size = round(n * protocol.fold_fraction)
    starts = [_snap(times, final_start - (protocol.folds - k) * size) for k in range(protocol.folds)]
    stops = [*starts[1:], final_start]
    folds = list(zip(starts, stops, strict=True))
    if any(stop - start < 1 for start, stop in folds) or starts[0] < 1:
        raise ValueError(f"{n} rows are too few for {protocol.folds} folds and a final slice")
    return folds, final_start


def _snap(times: npt.NDArray[np.int64], i: int) -> int:
    """Move a boundary forward past rows sharing the previous row's event time."""
    i = max(1, min(i, times.size - 1))
    while i < times.size and times[i] == times[i - 1]:
        i += 1
    return i


def fit_lightgbm(
    x: Matrix, y: Vector, params: Mapping[str, Any], rounds: int, names: tuple[str, ...] | None = None
) -> lgb.Booster:
    data = lgb.Dataset(x, label=y, feature_name=list(names) if names else "auto", free_raw_data=True)
    return lgb.train(dict(params), data, num_boost_round=rounds)


def choose(x: Matrix, y: Vector, times: npt.NDArray[np.int64], protocol: Protocol) -> Choice:
    """Hyper-parameters for a training part, from its inner validation blocks only."""
    n = y.size
    size = max(1, round(n * protocol.inner_fraction))
    blocks = []
    for k in range(protocol.inner_folds):
        start = _snap(times, n - (protocol.inner_folds - k) * size)
        stop = n if k == protocol.inner_folds - 1 else _snap(times, n - (protocol.inner_folds - k - 1) * size)
        y_fit, y_check = y[:start], y[start:stop]
        if y_fit.min() != y_fit.max() and y_check.min() != y_check.max():
            blocks.append((start, stop))
    if not blocks:
        raise ValueError("no inner block has both classes on each side: nothing can be chosen")
    losses: dict[str, list[float]] = {}
    rounds: dict[str, list[float]] = {}
    for name, overrides in PARAM_SETS.items():
        params = _params(protocol.seed) | overrides
        for start, stop in blocks:
            fit = lgb.Dataset(x[:start], label=y[:start], free_raw_data=True)
            check = lgb.Dataset(x[start:stop], label=y[start:stop], reference=fit, free_raw_data=True)
            booster = lgb.train(
                params,
                fit,
                num_boost_round=MAX_ROUNDS,
                valid_sets=[check],
                callbacks=[lgb.early_stopping(EARLY_STOPPING_ROUNDS, first_metric_only=True, verbose=False)],
            )
            best = int(booster.best_iteration) or int(booster.current_iteration())
            p = np.asarray(booster.predict(x[start:stop], num_iteration=best), dtype=np.float64)
            losses.setdefault(f"lightgbm:{name}", []).append(log_loss(y[start:stop], p))
            # rounds per training row, so the count scales to the (bigger) whole training part
            rounds.setdefault(name, []).append(best / start)
    for c in LR_C:
        for start, stop in blocks:
            model = fit_logistic_regression(_names(x), x[:start], y[:start], protocol.seed, c)
            losses.setdefault(f"logistic_regression:C={c:g}", []).append(
                log_loss(y[start:stop], model.predict(x[start:stop]))
            )
    inner = {k: statistics.fmean(v) for k, v in losses.items()}
    best_set = min(PARAM_SETS, key=lambda s: inner[f"lightgbm:{s}"])
    best_c = min(LR_C, key=lambda c: inner[f"logistic_regression:C={c:g}"])
    best_rounds = max(1, min(MAX_ROUNDS, round(statistics.fmean(rounds[best_set]) * n)))
    return Choice(best_set, best_rounds, best_c, inner)


def _names(x: Matrix) -> tuple[str, ...]:
    return tuple(f"f{j}" for j in range(x.shape[1]))


def fit_and_score(
    x_train: Matrix, y_train: Vector, x_test: Matrix, choice: Choice, seed: int, names: tuple[str, ...] | None = None
) -> tuple[dict[str, Vector], lgb.Booster, LinearModel]:
    """Every model fitted on the training rows with the chosen hyper-parameters, and its test scores."""
    booster = fit_lightgbm(x_train, y_train, choice.lightgbm_params(seed), choice.lightgbm_rounds, names)
    linear = fit_logistic_regression(names or _names(x_train), x_train, y_train, seed, choice.lr_c)
    scores = {
        "lightgbm": np.asarray(booster.predict(x_test), dtype=np.float64),
        "logistic_regression": linear.predict(x_test),
        "class_prior": np.full(x_test.shape[0], float(y_train.mean())),
    }
    return scores, booster, linear


def measure(y: Vector, p: Vector) -> dict[str, float]:
    return {
        "roc_auc": roc_auc(y, p),
        "pr_auc": average_precision(y, p),
        "log_loss": log_loss(y, p),
        "brier": brier(y, p),
    }


def evaluate(
    x: Matrix, y: Vector, times: npt.NDArray[np.int64], protocol: Protocol, progress: Any = None
) -> RollingResult:
    """The folds, their summary and the winner; the final slice is left for ``score_final``."""
    folds, final_start = boundaries(times, protocol)
    result = RollingResult(protocol=protocol, rows=int(y.size), final_start=final_start)
    for k, (start, stop) in enumerate(folds):
        if progress is not None:
            progress(f"fold {k + 1}/{len(folds)}: train on {start} rows, score rows {start}..{stop - 1}")
        choice = choose(x[:start], y[:start], times[:start], protocol)
        scores, _, _ = fit_and_score(x[:start], y[:start], x[start:stop], choice, protocol.seed)
        y_fold = y[start:stop]
        result.folds.append(
            Fold(
                index=k + 1,
                train_rows=start,
                start=start,
                stop=stop,
                positives=int(y_fold.sum()),
                choice=choice,
                metrics={m: measure(y_fold, scores[m]) for m in MODELS},
            )
        )
    result.summary = {
        model: {metric: spread([f.metrics[model][metric] for f in result.folds]) for metric in METRICS}
        for model in MODELS
    }
    lgb_loss = result.summary["lightgbm"]["log_loss"]["mean"]
    lr_loss = result.summary["logistic_regression"]["log_loss"]["mean"]
    result.winner = "lightgbm" if lgb_loss < lr_loss - TIE_LOG_LOSS else "logistic_regression"
    if progress is not None:
        progress("choosing hyper-parameters for the final fit (inner folds before the final slice)")
    result.final_choice = choose(x[:final_start], y[:final_start], times[:final_start], protocol)
    return result


def spread(values: list[float]) -> dict[str, float]:
    finite = [v for v in values if np.isfinite(v)]
    if not finite:
        return {"mean": float("nan"), "std": float("nan"), "min": float("nan"), "max": float("nan")}
    return {
        "mean": statistics.fmean(finite),
        "std": statistics.pstdev(finite) if len(finite) > 1 else 0.0,
        "min": min(finite),
        "max": max(finite),
    }


def fold_table(result: RollingResult) -> str:
    """One row per fold and model, then mean, std and min..max over the folds."""
    lines = [
        f"{'fold':<6}{'rows':>6}{'urgent':>7}  {'model':<20}{'roc_auc':>8}{'pr_auc':>8}{'log_loss':>9}{'brier':>8}"
        "  chosen"
    ]
    for f in result.folds:
        for model in MODELS:
            m = f.metrics[model]
            chosen = {
                "lightgbm": f"{f.choice.lightgbm_set}, {f.choice.lightgbm_rounds} rounds",
                "logistic_regression": f"C={f.choice.lr_c:g}",
                "class_prior": "",
            }[model]
            head = f"{f.index:<6}{f.stop - f.start:>6}{f.positives:>7}" if model == MODELS[0] else " " * 19
            lines.append(
                f"{head}  {model:<20}{m['roc_auc']:>8.3f}{m['pr_auc']:>8.3f}{m['log_loss']:>9.4f}{m['brier']:>8.4f}"
                f"  {chosen}"
            )
    lines.append("")
    lines.append(f"over {len(result.folds)} folds: mean ± std (min .. max)")
    for model in MODELS:
        s = result.summary[model]
        cells = "  ".join(
            f"{metric} {s[metric]['mean']:.3f}±{s[metric]['std']:.3f} ({s[metric]['min']:.3f}..{s[metric]['max']:.3f})"
            for metric in METRICS
        )
        lines.append(f"  {model:<20} {cells}")
    return "\n".join(lines)
