"""Training: historical events plus labels in, a versioned LightGBM artifact out.

Training must see exactly what serving sees, or the model learns from inputs it will never get.
So every event line goes through the real ``Decoder`` and ``Validator`` (records come out in the
latest schema's shape, with the same coercions and rejections), and features come from the same
feature module with history counts from ``InMemoryHistory``, the in-memory twin of the Redis
counters: events are replayed in event-time order and each event's counts are taken before it is
added, over ``[t - window, t)``. Unlabelled events still feed the history: they happened.

The split is by time, never random: the newest ``valid_fraction`` of the labelled rows validate a
model trained on the older ones, which is how the model will be used (on the future). The
validation rows are touched once, to measure: the number of boosting rounds and the parameter set
(one of ``PARAM_SETS``) are chosen on an *inner* time split of the training rows (its newest
``valid_fraction``), then the model is refitted on every training row. Two baselines trained in
the same run on the same rows say how much the model adds: the class prior and a logistic
regression (``processor.training.baselines``).

Guards refuse data that cannot give a trustworthy model, each with its own error code and an
override (``Guards``; thresholds in ``settings.training``): ``stale_data``, ``too_few_labels``
and ``too_few_minority``, ``one_class_only`` (no override: nothing can be learned or measured),
``leaky_feature`` (one feature alone separates the training labels), ``distribution_shift``
(a feature's PSI or the positive rate differs sharply between training and validation), and
``random_split_refused``.

The pipeline's ``model`` (``lightgbm``, the default, or ``logistic_regression``) says which of the
two is served: both are trained in every run and the other one is reported beside it as a baseline.
A logistic regression is saved as a ``LinearModel`` text (``processor.serving.linear``) that serving
applies with numpy; ``make eval`` decides which kind wins for jira_ticket_created
(``processor.training.rolling``) and passes the hyper-parameters its inner folds chose (``Preset``).

The artifact (``processor.serving.artifact``) holds the model text (LightGBM's, or the linear
model's) and metadata: data range and hash, feature names in order, split, metrics, parameters,
and reference histograms of every feature and of the validation score for drift monitoring (PSI).
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import numpy.typing as npt
import orjson

from processor import __version__
from processor.config import DecisionPolicy, PipelinesConfig, Settings
from processor.errors import ConfigError, ProcessorError
from processor.features import FeatureModule, load_feature_module
from processor.features.history import InMemoryHistory
from processor.messages import RawMessage
from processor.serializers.schemas import SchemaStore
from processor.serving.artifact import ArtifactRef, new_version, save_artifact
from processor.serving.linear import KIND as LINEAR_KIND
from processor.stages.decode import Decoder
from processor.stages.validate import Validator
from processor.training.baselines import class_prior_scores, fit_logistic_regression
from processor.training.metrics import evaluation, log_loss, roc_auc
from processor.training.progress import Progress
from processor.training.report import render_report
from processor.training.sources import EventSource, FeedbackLabels, JsonlFile, read_label_file

#: Fewer labelled rows than this cannot support a train/validation split worth reporting
#: (the default of ``settings.training.min_labelled_rows``; ``--allow-few-labels`` goes down to
#: ``HARD_MIN_LABELLED_ROWS``, below which nothing is trained).
MIN_LABELLED_ROWS = 200
HARD_MIN_LABELLED_ROWS = 20
REPORT_FILE = "report.html"
#: Feature PSI is compared with its threshold only when the validation split has this many rows.
SHIFT_MIN_ROWS = 100
#: Stop when the validation log loss has not improved for this many rounds.
EARLY_STOPPING_ROUNDS = 50
#: Candidate parameter sets, chosen between on the inner split (lowest log loss): the usual small
#: trees; heavier regularisation; and near-additive stumps, which suit rare positives and sparse
#: binary (keyword) features.
PARAM_SETS: dict[str, dict[str, Any]] = {
    "trees": {"num_leaves": 15, "min_data_in_leaf": 20, "learning_rate": 0.05},
    "regularised": {
        "num_leaves": 4,
        "min_data_in_leaf": 50,
        "learning_rate": 0.02,
        "feature_fraction": 0.7,
        "lambda_l2": 10.0,
    },
    "additive": {"num_leaves": 2, "min_data_in_leaf": 10, "learning_rate": 0.01, "extra_trees": True},
}
#: Quantiles (inner cut points) of the drift reference histograms: deciles, so 10 bins.
REFERENCE_QUANTILES = tuple(round(q, 1) for q in np.linspace(0.1, 0.9, 9))

REFERENCE_BINNING = (
    "edges are the distinct training-data deciles (inner cut points); bin 0 is (-inf, edges[0]], bin i is "
    "(edges[i-1], edges[i]], the last is (edges[-1], +inf) (numpy.searchsorted(edges, x, side='left')); "
    "shares are fractions of all rows, so sum(shares) + null_share == 1"
)

Matrix = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class DataSummary:
    """What the input files held and what was kept, so a surprising model can be traced to its data."""

    events_sha256: str
    lines: int
    rows: int  # valid, unique events of the trained type (labelled or not)
    labelled: int
    positives: int
    skipped_invalid: int
    skipped_invalid_by_code: dict[str, int]
    skipped_duplicate: int
    skipped_other_type: int
    labels_invalid: int
    first_occurred_at: datetime | None
    last_occurred_at: datetime | None


@dataclass(frozen=True, slots=True)
class TrainingResult:
    """The outcome of one run, for the CLI and for tests; the artifact metadata holds the full record.

    ``metrics`` and ``baseline_metrics`` are on the validation split; the baseline scores every
    row with the training positive rate, so a model that does not beat it has learned nothing.
    """

    artifact: ArtifactRef
    metrics: dict[str, float]
    baseline_metrics: dict[str, float]
    n_train: int
    n_valid: int
    train_range: tuple[datetime, datetime]
    valid_range: tuple[datetime, datetime]
    feature_importance: dict[str, float]  # total gain per feature, largest first
    best_iteration: int
    data: DataSummary
    warnings: tuple[str, ...] = field(default=())
    #: class_prior and logistic_regression, on the same validation rows
    baselines: dict[str, dict[str, float]] = field(default_factory=dict)
    #: guard name -> {status: passed | overridden, detail}
    guards: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: what was saved and serves: lightgbm or logistic_regression (the other is in ``baselines``)
    model_kind: str = "lightgbm"


@dataclass(frozen=True, slots=True)
class Preset:
    """Hyper-parameters chosen elsewhere (``make eval``'s inner folds): no inner split is used then."""

    lightgbm_set: str
    lightgbm_rounds: int
    lr_c: float


@dataclass(slots=True)
class _Row:
    occurred_at: int
    sequence: int | None
    event_id: str
    record: dict[str, Any]
    label: str | None

    def order(self) -> tuple[int, int, str]:
        return (self.occurred_at, self.sequence if self.sequence is not None else -1, self.event_id)


@dataclass(frozen=True, slots=True)
class Guards:
    """Which refusals this run overrides. Each guard stops training with its own error code unless
    its flag is set; an overridden guard is recorded in the metadata and the report as overridden."""

    allow_stale: bool = False  # stale_data
    allow_few_labels: bool = False  # too_few_labels, too_few_minority
    allow_leaky: bool = False  # leaky_feature
    allow_shift: bool = False  # distribution_shift


def train_model(
    *,
    event_type: str,
    events_path: Path | None = None,
    labels_path: Path | None = None,
    settings: Settings,
    pipelines: PipelinesConfig,
    valid_fraction: float = 0.2,
    seed: int = 7,
    now: datetime | None = None,
    num_boost_round: int = 1000,
    source: EventSource | None = None,
    feedback: FeedbackLabels | None = None,
    guards: Guards = Guards(),
    split: str = "time",
    progress: Progress | None = None,
    model_kind: str | None = None,
    preset: Preset | None = None,
) -> TrainingResult:
    """Train, evaluate and save a model for one event type; returns where it went and how it did.

    Events come from ``source`` (or the JSONL file ``events_path``); labels from ``labels_path``,
    ``feedback`` (human labels from the feedback topic, which win over the file) or inline
    ``label`` keys. Raises ``ConfigError`` when the inputs cannot produce a trustworthy model
    (see ``Guards`` and the module docstring for the codes); nothing is written then.
    ``model_kind`` overrides the pipeline's ``model``; ``preset`` skips the inner-split selection.
    """
    started = time.monotonic()
    progress = progress or Progress.silent()
    config = pipelines.event_types.get(event_type)
    if config is None:
        raise ConfigError("unknown_event_type", f"no pipeline configured for event type {event_type!r}")
    if split != "time":
        raise ConfigError(
            "random_split_refused",
            f"split {split!r} refused: only a time split is honest here (train on older events, validate on newer). "
            "A random split puts future events in training and overstates every metric.",
        )
    if not 0.0 < valid_fraction < 1.0:
        raise ConfigError("invalid_valid_fraction", f"valid_fraction must be in (0, 1), got {valid_fraction}")
    if num_boost_round < 1:
        raise ConfigError("invalid_num_boost_round", f"num_boost_round must be >= 1, got {num_boost_round}")
    kind = model_kind or config.model
    if kind not in ("lightgbm", LINEAR_KIND):
        raise ConfigError("unknown_model_kind", f"model kind {kind!r} is neither lightgbm nor {LINEAR_KIND}")
    if preset is not None and preset.lightgbm_set not in PARAM_SETS:
        raise ConfigError("unknown_param_set", f"preset parameter set {preset.lightgbm_set!r} is not in PARAM_SETS")
    if source is None:
        if events_path is None:
            raise ConfigError("no_events", "give an events file or another event source")
        source = JsonlFile(events_path)
    limits = settings.training
    now = _aware(now or datetime.now(UTC))
    module_name = config.features or event_type
    schemas = SchemaStore(settings.schemas_dir)
    module = load_feature_module(
        module_name,
        features_dir=settings.features_dir,
        schema_fields=schemas.latest(config.schema_name or event_type).fields
        if schemas.has(config.schema_name or event_type)
        else None,
    )
    names = _check_module(module_name, module)

    labels: dict[str, str] | None = None
    labels_invalid = 0
    label_sources: list[str] = []
    if labels_path is not None:
        labels, labels_invalid = read_label_file(labels_path)
        label_sources.append(f"file {labels_path.name} ({len(labels)})")
    if feedback is not None:
        labels = {**(labels or {}), **feedback.labels}  # a human's review decision wins
        labels_invalid += feedback.invalid
        label_sources.append(f"feedback topic ({len(feedback.labels)})")
    progress.stage(f"reading events from {source.name}")
    rows, summary = _load_events(
        source,
        event_type=event_type,
        decoder=Decoder(schemas, pipelines, settings.processing),
        validator=Validator(schemas, pipelines, settings.processing),
        labels=labels,
        labels_invalid=labels_invalid,
        positive_label=config.positive_label,
        now_ms=int(now.timestamp() * 1000),
    )
    if labels is None:
        label_sources.append("inline label keys")
    progress.stage(
        f"{summary.rows} {event_type} events, {summary.labelled} labelled ({summary.positives} positive), "
        f"{summary.skipped_invalid} invalid skipped"
    )
    checks: dict[str, dict[str, Any]] = {}
    warnings: list[str] = []

    def guard(name: str, failed: bool, allowed: bool, code: str, detail: str) -> None:
        status = "passed" if not failed else ("overridden" if allowed else "failed")
        checks[name] = {"status": status, "detail": detail}
        if failed and not allowed:
            raise ConfigError(code, detail)
        if failed:  # overridden: the "pass --allow-..." hint of the error no longer applies
            shown = detail.split("; pass --allow-")[0]
            checks[name]["detail"] = shown
            warnings.append(f"{name} guard overridden: {shown}")

    age_days = (now - summary.last_occurred_at).total_seconds() / 86_400 if summary.last_occurred_at else math.inf
    guard(
        "stale_data",
        age_days > limits.max_data_age_days,
        guards.allow_stale,
        "stale_data",
        f"the newest {event_type} event ({_iso(summary.last_occurred_at)}) is {age_days:.1f} days old, more than "
        f"the allowed {limits.max_data_age_days:g} (PROCESSOR_TRAINING__MAX_DATA_AGE_DAYS); "
        "pass --allow-stale to train on it anyway",
    )

    features, target, times = _build_features(event_type, module, names, rows, config.positive_label)
    n = target.size
    floor = HARD_MIN_LABELLED_ROWS if guards.allow_few_labels else max(limits.min_labelled_rows, HARD_MIN_LABELLED_ROWS)
    if n < HARD_MIN_LABELLED_ROWS:
        floor = HARD_MIN_LABELLED_ROWS
    guard(
        "labels",
        n < limits.min_labelled_rows,
        guards.allow_few_labels and n >= floor,
        "too_few_labels",
        f"{n} labelled {event_type} events in {source.name} (at least {limits.min_labelled_rows} are needed; "
        f"--allow-few-labels goes down to {HARD_MIN_LABELLED_ROWS})",
    )
    cut = _split_index(times, valid_fraction)
    x_train, y_train, x_valid, y_valid = features[:cut], target[:cut], features[cut:], target[cut:]
    for part, y in (("training", y_train), ("validation", y_valid)):
        positives = int(y.sum())
        if positives in (0, y.size):
            raise ConfigError(
                "one_class_only",
                f"the {part} split ({y.size} rows) has only {'positive' if positives else 'negative'} labels "
                f"(positive label {config.positive_label!r}); add labelled data or change valid_fraction",
            )
    minority = int(min(target.sum(), n - target.sum()))
    guard(
        "minority_class",
        minority < limits.min_minority_rows,
        guards.allow_few_labels,
        "too_few_minority",
        f"only {minority} labelled events of the rarer class (at least {limits.min_minority_rows}); "
        "pass --allow-few-labels to train anyway",
    )
    single_auc, suspects = _leakage_check(names, x_train, y_train, limits.leakage_auc_margin)
    guard(
        "leaky_feature",
        bool(suspects),
        guards.allow_leaky,
        "leaky_feature",
        "; ".join(
            f"feature {name} alone separates the training labels (AUC {single_auc[name]:.3f}): it is probably "
            "computed from the outcome or from data known only later"
            for name in suspects
        )
        + ("; pass --allow-leaky if it is truly known when the event happens" if suspects else "")
        or f"no feature alone has |AUC - 0.5| > {limits.leakage_auc_margin}",
    )
    shift = _shift_check(names, x_train, y_train, x_valid, y_valid)
    # PSI of a small sample is mostly noise (about bins/rows): below SHIFT_MIN_ROWS only the labels are compared
    shifted = [
        f
        for f, psi in shift["feature_psi"].items()
        if psi is not None and psi > limits.shift_psi_threshold and y_valid.size >= SHIFT_MIN_ROWS
    ]
    label_shifted = shift["label_ratio"] > limits.label_shift_ratio and shift["label_z"] > 3.0
    guard(
        "distribution_shift",
        bool(shifted) or label_shifted,
        guards.allow_shift,
        "distribution_shift",
        (
            f"train and validation differ sharply: positive rate {shift['train_rate']:.3f} vs "
            f"{shift['valid_rate']:.3f}"
            + "".join(f"; feature {f} PSI {shift['feature_psi'][f]:.2f}" for f in shifted)
            + f" (thresholds: PSI {limits.shift_psi_threshold:g}, rate ratio {limits.label_shift_ratio:g}); "
            "pass --allow-shift to train anyway"
        )
        if shifted or label_shifted
        else f"positive rate {shift['train_rate']:.3f} vs {shift['valid_rate']:.3f}; max feature PSI "
        f"{max((v for v in shift['feature_psi'].values() if v is not None), default=0.0):.2f}",
    )

    progress.stage(f"training on {cut} rows, validating on {n - cut} newer rows")
    if preset is None:
        selection = _select(seed, names, x_train, y_train, times[:cut], valid_fraction, num_boost_round, progress)
        lr_c = _select_c(seed, names, x_train, y_train, times[:cut], valid_fraction) if kind == LINEAR_KIND else 1.0
    else:
        selection = {
            "params": _params(seed) | PARAM_SETS[preset.lightgbm_set],
            "rounds": preset.lightgbm_rounds,
            "chosen": preset.lightgbm_set,
            "method": "preset: chosen on the inner folds of make eval's rolling-origin evaluation",
            "candidates": {},
        }
        lr_c = preset.lr_c
    params = selection["params"]
    best_iteration = int(selection["rounds"])
    booster = _fit(params, names, x_train, y_train, None, None, best_iteration, progress)
    p_lightgbm = np.asarray(booster.predict(x_valid, num_iteration=best_iteration), dtype=np.float64)
    lightgbm_text: str = booster.model_to_string(num_iteration=best_iteration)
    _check_roundtrip(lightgbm_text, x_valid, p_lightgbm)
    linear = fit_logistic_regression(names, x_train, y_train, seed, lr_c)
    p_linear = linear.predict(x_valid)
    if kind == LINEAR_KIND:
        model_text, p_valid, other, p_other = linear.to_text(), p_linear, "lightgbm", p_lightgbm
        # standardised coefficients: how far one standard deviation of the feature moves the logit
        weights = np.abs(np.asarray(linear.coef[: len(names)], dtype=float))
        importance_type = "abs_standardised_coef"
    else:
        model_text, p_valid, other, p_other = lightgbm_text, p_lightgbm, LINEAR_KIND, p_linear
        weights = np.asarray(booster.feature_importance(importance_type="gain", iteration=best_iteration), dtype=float)
        importance_type = "gain"

    progress.stage(f"baselines: class prior and {other} on the same features")
    scores = {"model": p_valid, other: p_other, "class_prior": class_prior_scores(y_train, y_valid.size)}
    evaluations = {name: evaluation(y_valid, s) for name, s in scores.items()}
    metrics = _headline(evaluations["model"])
    baselines = {name: _headline(evaluations[name]) for name in ("class_prior", other)}
    importance = {
        names[i]: round(float(weights[i]), 6) for i in sorted(range(len(names)), key=lambda i: (-weights[i], names[i]))
    }
    if metrics["roc_auc"] <= baselines[other]["roc_auc"]:
        warnings.append(
            f"the served {kind} model's validation ROC AUC {metrics['roc_auc']:.3f} does not beat the "
            f"{other} baseline's {baselines[other]['roc_auc']:.3f}"
        )

    train_range = (_dt(int(times[0])), _dt(int(times[cut - 1])))
    valid_range = (_dt(int(times[cut])), _dt(int(times[-1])))
    metadata: dict[str, Any] = {
        "version": new_version(model_text, now),
        "model_kind": kind,
        "created_at": now.isoformat(),
        "code_version": __version__,
        "feature_module": module_name,
        "feature_names": list(names),
        "history": [{"name": c.name, "key_field": c.key_field, "window_ms": c.window_ms} for c in module.HISTORY],
        "positive_label": config.positive_label,
        "decision": config.decision.model_dump(mode="json"),
        "thresholds": _thresholds(config.decision, y_valid, p_valid),
        "data": {
            "source": source.name,
            "events_file": events_path.name if events_path is not None else None,
            "sha256": summary.events_sha256,
            "lines": summary.lines,
            "rows": summary.rows,
            "labelled": summary.labelled,
            "positives": summary.positives,
            "skipped_invalid": summary.skipped_invalid,
            "skipped_invalid_by_code": summary.skipped_invalid_by_code,
            "skipped_duplicate": summary.skipped_duplicate,
            "skipped_other_type": summary.skipped_other_type,
            "labels_file": labels_path.name if labels_path is not None else None,
            "labels_source": ", ".join(label_sources),
            "feedback_labels": len(feedback.labels) if feedback is not None else None,
            "labels_invalid": summary.labels_invalid,
            "first_occurred_at": _iso(summary.first_occurred_at),
            "last_occurred_at": _iso(summary.last_occurred_at),
        },
        "split": {
            "method": "time",
            "valid_fraction": valid_fraction,
            "train_from": _iso(train_range[0]),
            "train_until": _iso(train_range[1]),
            "valid_from": _iso(valid_range[0]),
            "valid_until": _iso(valid_range[1]),
            "train_until_ms": int(times[cut - 1]),
            "valid_from_ms": int(times[cut]),
            "n_train": cut,
            "n_valid": n - cut,
            "train_positive_rate": float(y_train.mean()),
            "valid_positive_rate": float(y_valid.mean()),
        },
        "metrics": metrics,
        "baseline": "constant score = training positive rate",
        "baseline_metrics": baselines["class_prior"],
        "baselines": baselines,
        "evaluation": evaluations,
        "best_iteration": best_iteration,
        "num_boost_round": num_boost_round,
        "early_stopping_rounds": EARLY_STOPPING_ROUNDS,
        "params": params if kind == "lightgbm" else {"C": lr_c},
        "lightgbm_params": params,
        "logistic_regression_c": lr_c,
        "model_selection": {k: v for k, v in selection.items() if k != "params"},
        "lightgbm_version": lgb.__version__,
        "feature_importance": {"type": importance_type, "values": importance},
        "leakage": {"single_feature_auc": single_auc, "suspects": suspects, "margin": limits.leakage_auc_margin},
        "shift": shift,
        "guards": checks,
        "guard_overrides": {k: v for k, v in asdict(guards).items() if v},
        "reference": {
            "binning": REFERENCE_BINNING,
            "features": {name: _reference(x_train[:, j]) for j, name in enumerate(names)},
            "features_from": "training split",
            "score": _reference(p_valid),
            "score_from": "validation split (held-out scores; training-split scores are overfit)",
        },
        "warnings": list(warnings),
    }
    metadata["training_seconds"] = round(time.monotonic() - started, 3)
    metadata = _json_safe(metadata)
    progress.stage("writing the report and the artifact")
    report = render_report(
        metadata={**metadata, "event_type": event_type}, y_valid=y_valid, scores=scores, importance=importance
    )
    ref = save_artifact(settings.models.dir, event_type, model_text, metadata, {REPORT_FILE: report})
    progress.stage(f"done: {ref.path}")
    return TrainingResult(
        artifact=ref,
        metrics=metrics,
        baseline_metrics=baselines["class_prior"],
        n_train=cut,
        n_valid=n - cut,
        train_range=train_range,
        valid_range=valid_range,
        feature_importance=importance,
        best_iteration=best_iteration,
        data=summary,
        warnings=tuple(warnings),
        baselines=baselines,
        guards=checks,
        model_kind=kind,
    )


@dataclass(frozen=True, slots=True)
class Dataset:
    """Labelled rows in event-time order, featurised exactly as training (and serving) does."""

    feature_names: tuple[str, ...]
    features: Matrix
    target: npt.NDArray[np.float64]
    times: npt.NDArray[np.int64]  # event time of each row, ms, non-decreasing
    summary: DataSummary
    feature_module: str


def load_dataset(
    *,
    event_type: str,
    events_path: Path,
    labels_path: Path | None,
    settings: Settings,
    pipelines: PipelinesConfig,
    now: datetime | None = None,
) -> Dataset:
    """The labelled feature matrix ``train_model`` would build from these files, for evaluations
    that fit many models on it (``processor.training.rolling``). No guard runs and nothing is written."""
    config = pipelines.event_types.get(event_type)
    if config is None:
        raise ConfigError("unknown_event_type", f"no pipeline configured for event type {event_type!r}")
    module_name = config.features or event_type
    module = load_feature_module(module_name, features_dir=settings.features_dir)
    names = _check_module(module_name, module)
    labels, labels_invalid = read_label_file(labels_path) if labels_path is not None else (None, 0)
    schemas = SchemaStore(settings.schemas_dir)
    rows, summary = _load_events(
        JsonlFile(events_path),
        event_type=event_type,
        decoder=Decoder(schemas, pipelines, settings.processing),
        validator=Validator(schemas, pipelines, settings.processing),
        labels=labels,
        labels_invalid=labels_invalid,
        positive_label=config.positive_label,
        now_ms=int(_aware(now or datetime.now(UTC)).timestamp() * 1000),
    )
    features, target, times = _build_features(event_type, module, names, rows, config.positive_label)
    return Dataset(names, features, target, times, summary, module_name)


def format_result(result: TrainingResult) -> str:
    """A few lines for a terminal: what was trained on, how it did beside the baselines, where it is."""
    d = result.data
    total_gain = sum(result.feature_importance.values()) or 1.0
    top = ", ".join(
        f"{name} {gain / total_gain:.0%}" for name, gain in list(result.feature_importance.items())[:5] if gain > 0
    )
    invalid = ", ".join(f"{code} {count}" for code, count in sorted(d.skipped_invalid_by_code.items()))
    lines = [
        f"model {result.artifact.event_type} {result.artifact.version} -> {result.artifact.path}",
        f"data: {d.lines} lines, {d.rows} events, {d.labelled} labelled ({d.positives} positive), "
        f"skipped {d.skipped_invalid} invalid{f' ({invalid})' if invalid else ''}, "
        f"{d.skipped_duplicate} duplicate, {d.skipped_other_type} other type",
        f"train: {result.n_train} rows {_day(result.train_range[0])} .. {_day(result.train_range[1])}; "
        f"valid: {result.n_valid} rows {_day(result.valid_range[0])} .. {_day(result.valid_range[1])}",
        metrics_table(
            result.metrics,
            result.baselines or {"class_prior baseline": result.baseline_metrics},
            MODEL_LABELS.get(result.model_kind, result.model_kind),
        ),
        f"best iteration {result.best_iteration}; top features by gain: {top or '(none)'}"
        if result.model_kind == "lightgbm"
        else f"top features by |standardised coefficient|: {top or '(none)'}",
        f"report: {result.artifact.path / REPORT_FILE}",
    ]
    lines.extend(f"warning: {w}" for w in result.warnings)
    return "\n".join(lines)


MODEL_LABELS = {"lightgbm": "LightGBM", LINEAR_KIND: "logistic regression"}


def metrics_table(
    model: Mapping[str, float], baselines: Mapping[str, Mapping[str, float]], model_label: str = "LightGBM"
) -> str:
    """Validation metrics of the served model beside its baselines, one row each."""
    header = f"{'validation':<22} {'roc_auc':>8} {'pr_auc':>8} {'log_loss':>9} {'brier':>8} {'ece':>7}"
    rows = [header]
    for name, m in [(f"model ({model_label})", model), *baselines.items()]:
        rows.append(
            f"{name:<22} {m.get('roc_auc', math.nan):>8.3f} {m.get('pr_auc', math.nan):>8.3f} "
            f"{m.get('log_loss', math.nan):>9.4f} {m.get('brier', math.nan):>8.4f} {m.get('ece', math.nan):>7.4f}"
        )
    return "\n".join(rows)


def _headline(full: Mapping[str, Any]) -> dict[str, float]:
    return {k: float(v) for k, v in full.items() if k != "calibration"}


def _thresholds(policy: DecisionPolicy, y: npt.NDArray[np.float64], p: npt.NDArray[np.float64]) -> dict[str, Any]:
    """The decision bands in force and what each cut does on the validation rows."""
    cuts = sorted(
        {b.min_score for b in policy.bands if b.min_score > 0}
        | ({policy.review_band.low, policy.review_band.high} if policy.review_band else set())
    )
    at = {}
    positives = max(float(y.sum()), 1.0)
    for cut in cuts:
        flagged = p >= cut
        tp = float(y[flagged].sum())
        at[f"{cut:g}"] = {
            "flagged_share": float(flagged.mean()),
            "precision": tp / float(flagged.sum()) if flagged.any() else None,
            "recall": tp / positives,
        }
    return {
        "bands": [b.model_dump(mode="json") for b in policy.sorted_bands()],
        "review_band": policy.review_band.model_dump(mode="json") if policy.review_band else None,
        "on_validation": at,
    }


def _psi(expected: npt.NDArray[np.float64], actual: npt.NDArray[np.float64]) -> float | None:
    """Population stability index of ``actual`` against ``expected``'s deciles (nulls a bin of their own)."""
    present = expected[~np.isnan(expected)]
    if present.size == 0 or actual.size == 0:
        return None
    edges = np.unique(np.quantile(present, REFERENCE_QUANTILES))

    def shares(values: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        nulls = np.isnan(values)
        bins = np.searchsorted(edges, values[~nulls], side="left")
        counts = np.bincount(bins, minlength=edges.size + 1).astype(np.float64)
        counts = np.append(counts, float(nulls.sum()))
        return np.maximum(counts / values.size, 1e-4)  # an empty bin must not make the index infinite

    e, a = shares(expected), shares(actual)
    return float(np.sum((a - e) * np.log(a / e)))


def _shift_check(
    names: tuple[str, ...],
    x_train: Matrix,
    y_train: npt.NDArray[np.float64],
    x_valid: Matrix,
    y_valid: npt.NDArray[np.float64],
) -> dict[str, Any]:
    """PSI of every feature (validation against training) and how far apart the positive rates are."""
    psi = {name: _psi(x_train[:, j], x_valid[:, j]) for j, name in enumerate(names)}
    pt, pv = float(y_train.mean()), float(y_valid.mean())
    pooled = float(np.concatenate((y_train, y_valid)).mean())
    se = math.sqrt(max(pooled * (1 - pooled), 1e-12) * (1 / y_train.size + 1 / y_valid.size))
    ratio = max(pt, pv) / max(min(pt, pv), 1e-12)
    return {
        "feature_psi": {k: (round(v, 6) if v is not None else None) for k, v in psi.items()},
        "train_rate": pt,
        "valid_rate": pv,
        "label_ratio": ratio,
        "label_z": abs(pt - pv) / se,
    }


# -- reading -------------------------------------------------------------------------------------


def _load_events(
    source: EventSource,
    *,
    event_type: str,
    decoder: Decoder,
    validator: Validator,
    labels: Mapping[str, str] | None,
    labels_invalid: int,
    positive_label: str,
    now_ms: int,
) -> tuple[list[_Row], DataSummary]:
    """Decode, dedupe and validate every line as the serving stages would, in that order.

    Serving dedupes after decode and before validate (first sighting wins, valid or not), so
    training does too. A ``label`` key on an event line is taken off before decoding (it is not
    part of the event contract) and used only when there is no labels file.
    """
    rows: list[_Row] = []
    seen: set[str] = set()
    invalid: Counter[str] = Counter()
    duplicates = other_type = lines = 0
    topic = source.name
    for number, line in source.messages():
        lines += 1
        if not line.strip():
            continue
        inline_label: Any = None
        if line[:1] != b"\xc3" and b'"label"' in line:  # JSON only: Avro records carry no label
            line, inline_label = _strip_label(line)
        raw = RawMessage(topic=topic, partition=0, offset=number, key=None, value=line)
        try:
            event = decoder.decode(raw)
        except ProcessorError as exc:
            invalid[exc.code] += 1
            continue
        if event.event_id in seen:
            duplicates += 1
            continue
        seen.add(event.event_id)
        if event.event_type != event_type:
            other_type += 1
            continue
        try:
            event = validator.validate(event, now_ms)
        except ProcessorError as exc:
            invalid[exc.code] += 1
            continue
        if labels is not None:
            label: str | None = labels.get(event.event_id)
        elif isinstance(inline_label, str) and inline_label:
            label = inline_label
        else:
            if inline_label is not None:
                labels_invalid += 1
            label = None
        rows.append(_Row(event.occurred_at, event.sequence, event.event_id, event.record, label))

    rows.sort(key=_Row.order)
    labelled = [r for r in rows if r.label is not None]
    summary = DataSummary(
        events_sha256=source.sha256(),
        lines=lines,
        rows=len(rows),
        labelled=len(labelled),
        positives=sum(r.label == positive_label for r in labelled),
        skipped_invalid=sum(invalid.values()),
        skipped_invalid_by_code=dict(sorted(invalid.items())),
        skipped_duplicate=duplicates,
        skipped_other_type=other_type,
        labels_invalid=labels_invalid,
        first_occurred_at=_dt(rows[0].occurred_at) if rows else None,
        last_occurred_at=_dt(rows[-1].occurred_at) if rows else None,
    )
    return rows, summary


def _strip_label(line: bytes) -> tuple[bytes, Any]:
    """Take a top-level ``label`` key off an event line; lines that do not parse are left to the decoder."""
    try:
        item = orjson.loads(line)
    except orjson.JSONDecodeError:
        return line, None
    if not isinstance(item, dict) or "label" not in item:
        return line, None
    label = item.pop("label")
    return orjson.dumps(item), label


# -- features and model --------------------------------------------------------------------------


def _check_module(name: str, module: FeatureModule) -> tuple[str, ...]:
    names = tuple(module.FEATURE_NAMES)
    if len(set(names)) != len(names):
        raise ConfigError("invalid_feature_module", f"feature module {name} repeats a feature name")
    missing = [c.name for c in module.HISTORY if c.name not in names]
    if missing:
        raise ConfigError(
            "invalid_feature_module", f"feature module {name}: history counters {missing} not in FEATURE_NAMES"
        )
    return names


def _build_features(
    event_type: str, module: FeatureModule, names: tuple[str, ...], rows: list[_Row], positive_label: str
) -> tuple[Matrix, npt.NDArray[np.float64], npt.NDArray[np.int64]]:
    """Replay rows (already in event-time order) through the history; vectors for labelled rows.

    Counts are read before the event is added, so an event never counts itself or anything later.
    """
    history = InMemoryHistory({event_type: module})
    vectors: list[list[float]] = []
    target: list[float] = []
    times: list[int] = []
    width = len(names)
    for row in rows:
        if row.label is not None:
            counts = history.counts(event_type, row.record, row.occurred_at)
            vector = module.compute(row.record, counts)
            if len(vector) != width:
                raise ConfigError(
                    "invalid_feature_module",
                    f"feature module for {event_type} returned {len(vector)} values for {width} feature names",
                )
            vectors.append(vector)
            target.append(1.0 if row.label == positive_label else 0.0)
            times.append(row.occurred_at)
        history.add(event_type, row.event_id, row.record, row.occurred_at)
    matrix = np.asarray(vectors, dtype=np.float64).reshape(len(vectors), width)
    infinite = np.isinf(matrix)
    if infinite.any():
        column = int(np.flatnonzero(infinite.any(axis=0))[0])
        raise ConfigError("invalid_feature_value", f"feature {names[column]} of {event_type} produced an infinity")
    return matrix, np.asarray(target, dtype=np.float64), np.asarray(times, dtype=np.int64)


def _split_index(times: npt.NDArray[np.int64], valid_fraction: float) -> int:
    """First validation row: the newest ``valid_fraction`` of rows, never splitting equal timestamps.

    Rows sharing an event time go to the same side, so no validation row is as old as a training row.
    """
    n = times.size
    cut = n - max(1, round(n * valid_fraction))
    cut = max(cut, 1)
    while cut < n and times[cut] == times[cut - 1]:
        cut += 1
    if cut >= n:
        raise ConfigError(
            "too_few_labels", "every labelled event has the same event time: no time-based split is possible"
        )
    return cut


def _params(seed: int) -> dict[str, Any]:
    """Parameters for a few thousand rows: small trees, slow learning, row and column subsampling.

    ``deterministic`` with a fixed ``seed`` makes a rerun on the same data produce the same model
    text (and so the same version hash suffix). One thread: these training sets are small (the
    Hadoop tickets train in about a second), and with no OpenMP worker threads nothing a long-lived
    process did before (another library's thread pool, a changed floating-point environment) can
    make a rerun differ; a CI run once saw two trainings in one process disagree with two threads.
    """
    return {
        "objective": "binary",
        "metric": ["binary_logloss"],
        "learning_rate": 0.05,
        "num_leaves": 15,
        "min_data_in_leaf": 20,
        "feature_fraction": 0.9,
        "bagging_fraction": 0.8,
        "bagging_freq": 1,
        "lambda_l2": 1.0,
        "seed": seed,
        "deterministic": True,
        "force_col_wise": True,
        "num_threads": 1,
        "verbose": -1,
    }


def _fit(
    params: dict[str, Any],
    names: tuple[str, ...],
    x_train: Matrix,
    y_train: npt.NDArray[np.float64],
    x_valid: Matrix | None,
    y_valid: npt.NDArray[np.float64] | None,
    num_boost_round: int,
    progress: Progress,
    label: str = "final fit",
) -> Any:
    """Boost on the training rows; with a validation set, stop early on its log loss."""
    train_set = lgb.Dataset(x_train, label=y_train, feature_name=list(names), free_raw_data=True)
    callbacks = [progress.lightgbm_callback(num_boost_round, label)]
    valid_sets = []
    if x_valid is not None and y_valid is not None:
        valid_sets.append(lgb.Dataset(x_valid, label=y_valid, reference=train_set, free_raw_data=True))
        callbacks.insert(0, lgb.early_stopping(EARLY_STOPPING_ROUNDS, first_metric_only=True, verbose=False))
    booster = lgb.train(
        params,
        train_set,
        num_boost_round=num_boost_round,
        valid_sets=valid_sets,
        valid_names=["inner"] * len(valid_sets),
        callbacks=callbacks,
    )
    progress.finish_bar()
    return booster


def _usable_inner_split(
    y_train: npt.NDArray[np.float64], times: npt.NDArray[np.int64], valid_fraction: float
) -> int | None:
    """Where the inner time split of the training rows falls, or None when it cannot measure
    anything (no split, or one class only on a side): the choices then fall back to defaults."""
    try:
        inner = _split_index(times, valid_fraction)
    except ConfigError:
        return None
    y_fit, y_check = y_train[:inner], y_train[inner:]
    if inner == 0 or y_fit.min() == y_fit.max() or y_check.min() == y_check.max():
        return None
    return inner


def _select(
    seed: int,
    names: tuple[str, ...],
    x_train: Matrix,
    y_train: npt.NDArray[np.float64],
    times: npt.NDArray[np.int64],
    valid_fraction: float,
    num_boost_round: int,
    progress: Progress,
) -> dict[str, Any]:
    """Parameter set and rounds, chosen on an inner time split of the training rows only.

    When the inner split cannot measure anything (one class on a side), the first set is used with
    a round count scaled to its learning rate, and the metadata says so.
    """
    inner = _usable_inner_split(y_train, times, valid_fraction)
    if inner is None:
        name = next(iter(PARAM_SETS))
        return {
            "params": _params(seed) | PARAM_SETS[name],
            "rounds": min(num_boost_round, 100),
            "chosen": name,
            "method": "no usable inner split (one class on a side): defaults",
            "candidates": {},
        }
    y_fit, y_check = y_train[:inner], y_train[inner:]
    candidates: dict[str, dict[str, float]] = {}
    best: tuple[float, str, int] | None = None
    for name, overrides in PARAM_SETS.items():
        params = _params(seed) | overrides
        booster = _fit(
            params, names, x_train[:inner], y_fit, x_train[inner:], y_check, num_boost_round, progress, f"select {name}"
        )
        rounds = int(booster.best_iteration) or int(booster.current_iteration())
        p = np.asarray(booster.predict(x_train[inner:], num_iteration=rounds), dtype=np.float64)
        candidates[name] = {"rounds": rounds, "log_loss": log_loss(y_check, p), "roc_auc": roc_auc(y_check, p)}
        if best is None or candidates[name]["log_loss"] < best[0]:
            best = (candidates[name]["log_loss"], name, rounds)
    assert best is not None
    _, name, rounds = best
    # the final fit sees 1/(1 - valid_fraction) times the rows: scale the rounds to match
    rounds = max(1, min(num_boost_round, round(rounds / (1 - valid_fraction))))
    return {
        "params": _params(seed) | PARAM_SETS[name],
        "rounds": rounds,
        "chosen": name,
        "method": f"lowest log loss on the newest {valid_fraction:.0%} of the training rows (inner time split)",
        "inner_rows": {"fit": int(inner), "check": int(y_check.size)},
        "candidates": candidates,
    }


#: Candidate inverse regularisation strengths of a served logistic regression.
LR_C = (0.01, 0.1, 1.0)


def _select_c(
    seed: int,
    names: tuple[str, ...],
    x_train: Matrix,
    y_train: npt.NDArray[np.float64],
    times: npt.NDArray[np.int64],
    valid_fraction: float,
) -> float:
    """The logistic regression's ``C`` with the lowest log loss on the inner time split (1.0 when unusable)."""
    inner = _usable_inner_split(y_train, times, valid_fraction)
    if inner is None:
        return 1.0
    y_fit, y_check = y_train[:inner], y_train[inner:]
    losses = {
        c: log_loss(y_check, fit_logistic_regression(names, x_train[:inner], y_fit, seed, c).predict(x_train[inner:]))
        for c in LR_C
    }
    return min(LR_C, key=lambda c: losses[c])


def _check_roundtrip(model_text: str, x_valid: Matrix, p_valid: npt.NDArray[np.float64]) -> None:
    """The saved text must score like the booster that was measured, or the metrics describe another model."""
    reloaded = lgb.Booster(model_str=model_text)
    again = np.asarray(reloaded.predict(x_valid), dtype=np.float64)
    if not np.allclose(again, p_valid, rtol=0.0, atol=1e-9):
        raise ProcessorError("model_roundtrip_mismatch", "the model text does not reproduce the evaluated scores")


def _leakage_check(
    names: tuple[str, ...], x_train: Matrix, y_train: npt.NDArray[np.float64], margin: float
) -> tuple[dict[str, float | None], list[str]]:
    """AUC of each feature alone on the training rows where it is present.

    A feature that alone nearly separates the labels is more often a leak (it was computed from
    the outcome, or from data only known later) than a discovery; it is reported, not removed.
    """
    aucs: dict[str, float | None] = {}
    suspects: list[str] = []
    for j, name in enumerate(names):
        column = x_train[:, j]
        present = ~np.isnan(column)
        y = y_train[present]
        if y.size < HARD_MIN_LABELLED_ROWS or y.min() == y.max():
            aucs[name] = None
            continue
        auc = roc_auc(y, column[present])
        aucs[name] = round(auc, 6)
        if abs(auc - 0.5) > margin:
            suspects.append(name)
    return aucs, suspects


def _reference(values: npt.NDArray[np.float64]) -> dict[str, Any]:
    """Decile histogram of one column for drift monitoring (see ``REFERENCE_BINNING``)."""
    total = values.size
    present = values[~np.isnan(values)]
    null_share = 1.0 - present.size / total if total else 0.0
    if present.size == 0:
        return {"edges": [], "shares": [], "null_share": null_share, "count": total}
    edges = np.unique(np.quantile(present, REFERENCE_QUANTILES))
    bins = np.searchsorted(edges, present, side="left")
    counts = np.bincount(bins, minlength=edges.size + 1)
    return {
        "edges": [float(e) for e in edges],
        "shares": [float(c) / total for c in counts],
        "null_share": null_share,
        "count": total,
        # the range seen in training: serving escalates values outside it (if the type asks to)
        "min": float(present.min()),
        "max": float(present.max()),
    }


def _json_safe(value: Any) -> Any:
    """NaN and infinities are not JSON: store them as null."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _dt(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _day(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M")
