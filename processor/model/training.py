"""Training: historical events plus labels in, a versioned LightGBM artifact out.

Training must see exactly what serving sees, or the model learns from inputs it will never get.
So every event line goes through the real ``Decoder`` and ``Validator`` (records come out in the
latest schema's shape, with the same coercions and rejections), and features come from the same
feature module with history counts from ``InMemoryHistory``, the in-memory twin of the Redis
counters: events are replayed in event-time order and each event's counts are taken before it is
added, over ``[t - window, t)``. Unlabelled events still feed the history: they happened.

The split is by time, never random: the newest ``valid_fraction`` of the labelled rows validate a
model trained on the older ones, which is how the model will be used (on the future). Early
stopping uses that validation split, so the reported metrics are slightly optimistic; the
class-prior baseline stored beside them says how much the model adds at all.

The artifact (``processor.model.artifact``) holds LightGBM's text model and metadata: data range
and hash, feature names in order, split, metrics, parameters, and reference histograms of every
feature and of the validation score for drift monitoring (PSI).
"""

from __future__ import annotations

import hashlib
import math
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import numpy.typing as npt
import orjson

from processor import __version__
from processor.config import PipelinesConfig, Settings
from processor.errors import ConfigError, ProcessorError
from processor.messages import RawMessage
from processor.model.artifact import ArtifactRef, new_version, save_artifact
from processor.model.features import FeatureModule, load_feature_module
from processor.model.features.history import InMemoryHistory
from processor.model.metrics import binary_metrics, roc_auc
from processor.serializers.schemas import SchemaStore
from processor.stages.decode import Decoder
from processor.stages.validate import Validator

#: Fewer labelled rows than this cannot support a train/validation split worth reporting.
MIN_LABELLED_ROWS = 50
#: Stop when the validation log loss has not improved for this many rounds.
EARLY_STOPPING_ROUNDS = 30
#: Quantiles (inner cut points) of the drift reference histograms: deciles, so 10 bins.
REFERENCE_QUANTILES = tuple(round(q, 1) for q in np.linspace(0.1, 0.9, 9))
#: A single feature separating the training labels this well (|AUC - 0.5|) is reported as a leak suspect.
LEAKAGE_AUC_MARGIN = 0.48

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


@dataclass(slots=True)
class _Row:
    occurred_at: int
    sequence: int | None
    event_id: str
    record: dict[str, Any]
    label: str | None

    def order(self) -> tuple[int, int, str]:
        return (self.occurred_at, self.sequence if self.sequence is not None else -1, self.event_id)


def train_model(
    *,
    event_type: str,
    events_path: Path,
    labels_path: Path | None,
    settings: Settings,
    pipelines: PipelinesConfig,
    valid_fraction: float = 0.2,
    seed: int = 7,
    now: datetime | None = None,
    num_boost_round: int = 300,
) -> TrainingResult:
    """Train, evaluate and save a model for one event type; returns where it went and how it did.

    Raises ``ConfigError`` when the inputs cannot produce a trustworthy model: an unknown event
    type or feature module, ``too_few_labels`` (fewer than ``MIN_LABELLED_ROWS``), or
    ``one_class_only`` (a split without both classes, where no metric means anything).
    """
    started = time.monotonic()
    config = pipelines.event_types.get(event_type)
    if config is None:
        raise ConfigError("unknown_event_type", f"no pipeline configured for event type {event_type!r}")
    if not 0.0 < valid_fraction < 1.0:
        raise ConfigError("invalid_valid_fraction", f"valid_fraction must be in (0, 1), got {valid_fraction}")
    if num_boost_round < 1:
        raise ConfigError("invalid_num_boost_round", f"num_boost_round must be >= 1, got {num_boost_round}")
    now = _aware(now or datetime.now(UTC))
    module_name = config.features or event_type
    module = load_feature_module(module_name)
    names = _check_module(module_name, module)

    labels, labels_invalid = _read_labels(labels_path) if labels_path is not None else (None, 0)
    schemas = SchemaStore(settings.schemas_dir)
    rows, summary = _load_events(
        events_path,
        event_type=event_type,
        decoder=Decoder(schemas, pipelines, settings.processing),
        validator=Validator(schemas, pipelines, settings.processing),
        labels=labels,
        labels_invalid=labels_invalid,
        positive_label=config.positive_label,
        now_ms=int(now.timestamp() * 1000),
    )

    features, target, times = _build_features(event_type, module, names, rows, config.positive_label)
    n = target.size
    if n < MIN_LABELLED_ROWS:
        raise ConfigError(
            "too_few_labels",
            f"{n} labelled {event_type} events in {events_path} (at least {MIN_LABELLED_ROWS} are needed)",
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

    params = _params(seed)
    booster = _fit(params, names, x_train, y_train, x_valid, y_valid, num_boost_round)
    best_iteration = int(booster.best_iteration) or int(booster.current_iteration())
    p_valid = np.asarray(booster.predict(x_valid, num_iteration=best_iteration), dtype=np.float64)
    model_text: str = booster.model_to_string(num_iteration=best_iteration)
    _check_roundtrip(model_text, x_valid, p_valid)

    metrics = binary_metrics(y_valid, p_valid)
    prior = float(y_train.mean())
    baseline = binary_metrics(y_valid, np.full(y_valid.size, prior))
    gains = np.asarray(booster.feature_importance(importance_type="gain", iteration=best_iteration), dtype=float)
    importance = {
        names[i]: round(float(gains[i]), 6) for i in sorted(range(len(names)), key=lambda i: (-gains[i], names[i]))
    }
    single_auc, suspects = _leakage_check(names, x_train, y_train)
    warnings = tuple(
        f"feature {name} alone separates the training labels (AUC {single_auc[name]:.3f}): check it for leakage"
        for name in suspects
    )

    train_range = (_dt(int(times[0])), _dt(int(times[cut - 1])))
    valid_range = (_dt(int(times[cut])), _dt(int(times[-1])))
    metadata: dict[str, Any] = {
        "version": new_version(model_text, now),
        "created_at": now.isoformat(),
        "code_version": __version__,
        "feature_module": module_name,
        "feature_names": list(names),
        "history": [{"name": c.name, "key_field": c.key_field, "window_ms": c.window_ms} for c in module.HISTORY],
        "positive_label": config.positive_label,
        "decision": config.decision.model_dump(mode="json"),
        "data": {
            "events_file": events_path.name,
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
            "labels_invalid": summary.labels_invalid,
            "first_occurred_at": _iso(summary.first_occurred_at),
            "last_occurred_at": _iso(summary.last_occurred_at),
        },
        "split": {
            "method": "time",
            "valid_fraction": valid_fraction,
            "train_until_ms": int(times[cut - 1]),
            "valid_from_ms": int(times[cut]),
            "n_train": cut,
            "n_valid": n - cut,
            "train_positive_rate": prior,
        },
        "metrics": metrics,
        "baseline": "constant score = training positive rate",
        "baseline_metrics": baseline,
        "best_iteration": best_iteration,
        "num_boost_round": num_boost_round,
        "early_stopping_rounds": EARLY_STOPPING_ROUNDS,
        "params": params,
        "lightgbm_version": lgb.__version__,
        "feature_importance": {"type": "gain", "values": importance},
        "leakage": {"single_feature_auc": single_auc, "suspects": suspects, "margin": LEAKAGE_AUC_MARGIN},
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
    ref = save_artifact(settings.models.dir, event_type, model_text, _json_safe(metadata))
    return TrainingResult(
        artifact=ref,
        metrics=metrics,
        baseline_metrics=baseline,
        n_train=cut,
        n_valid=n - cut,
        train_range=train_range,
        valid_range=valid_range,
        feature_importance=importance,
        best_iteration=best_iteration,
        data=summary,
        warnings=warnings,
    )


def format_result(result: TrainingResult) -> str:
    """A few lines for a terminal: what was trained on, how it did against the prior, where it is."""
    d = result.data
    m, b = result.metrics, result.baseline_metrics
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
        f"valid metrics    roc_auc {m['roc_auc']:.3f}  pr_auc {m['pr_auc']:.3f}  "
        f"log_loss {m['log_loss']:.4f}  brier {m['brier']:.4f}  positive_rate {m['positive_rate']:.3f}",
        f"prior baseline   roc_auc {b['roc_auc']:.3f}  pr_auc {b['pr_auc']:.3f}  "
        f"log_loss {b['log_loss']:.4f}  brier {b['brier']:.4f}",
        f"best iteration {result.best_iteration}; top features by gain: {top or '(none)'}",
    ]
    lines.extend(f"warning: {w}" for w in result.warnings)
    return "\n".join(lines)


# -- reading -------------------------------------------------------------------------------------


def _read_labels(path: Path) -> tuple[dict[str, str], int]:
    """``event_id -> label`` from a JSONL file; a later line for the same id wins (a correction)."""
    labels: dict[str, str] = {}
    invalid = 0
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise ConfigError("labels_file_unreadable", f"cannot read labels file {path}: {exc}") from exc
    with handle:
        for line in handle:
            if not line.strip():
                continue
            try:
                item = orjson.loads(line)
            except orjson.JSONDecodeError:
                invalid += 1
                continue
            if not isinstance(item, dict):
                invalid += 1
                continue
            event_id, label = item.get("event_id"), item.get("label")
            if not isinstance(event_id, str) or not isinstance(label, str) or not event_id or not label:
                invalid += 1
                continue
            labels[event_id] = label
    return labels, invalid


def _lines(path: Path, hasher: Any) -> Iterator[tuple[int, bytes]]:
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise ConfigError("events_file_unreadable", f"cannot read events file {path}: {exc}") from exc
    with handle:
        for number, line in enumerate(handle, start=1):
            hasher.update(line)
            yield number, line.rstrip(b"\r\n")


def _load_events(
    path: Path,
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
    hasher = hashlib.sha256()
    rows: list[_Row] = []
    seen: set[str] = set()
    invalid: Counter[str] = Counter()
    duplicates = other_type = lines = 0
    topic = f"file:{path.name}"
    for number, line in _lines(path, hasher):
        lines += 1
        if not line.strip():
            continue
        inline_label: Any = None
        if b'"label"' in line:
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
        events_sha256=hasher.hexdigest(),
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

    ``deterministic`` with a fixed ``seed`` and thread count makes a rerun on the same data produce
    the same model text (and so the same version hash suffix).
    """
    return {
        "objective": "binary",
        "metric": ["binary_logloss", "auc"],
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
        "num_threads": 2,
        "verbose": -1,
    }


def _fit(
    params: dict[str, Any],
    names: tuple[str, ...],
    x_train: Matrix,
    y_train: npt.NDArray[np.float64],
    x_valid: Matrix,
    y_valid: npt.NDArray[np.float64],
    num_boost_round: int,
) -> Any:
    train_set = lgb.Dataset(x_train, label=y_train, feature_name=list(names), free_raw_data=True)
    valid_set = lgb.Dataset(x_valid, label=y_valid, reference=train_set, free_raw_data=True)
    return lgb.train(
        params,
        train_set,
        num_boost_round=num_boost_round,
        valid_sets=[valid_set],
        valid_names=["valid"],
        callbacks=[lgb.early_stopping(EARLY_STOPPING_ROUNDS, first_metric_only=True, verbose=False)],
    )


def _check_roundtrip(model_text: str, x_valid: Matrix, p_valid: npt.NDArray[np.float64]) -> None:
    """The saved text must score like the booster that was measured, or the metrics describe another model."""
    reloaded = lgb.Booster(model_str=model_text)
    again = np.asarray(reloaded.predict(x_valid), dtype=np.float64)
    if not np.allclose(again, p_valid, rtol=0.0, atol=1e-9):
        raise ProcessorError("model_roundtrip_mismatch", "the model text does not reproduce the evaluated scores")


def _leakage_check(
    names: tuple[str, ...], x_train: Matrix, y_train: npt.NDArray[np.float64]
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
        if y.size < MIN_LABELLED_ROWS or y.min() == y.max():
            aucs[name] = None
            continue
        auc = roc_auc(y, column[present])
        aucs[name] = round(auc, 6)
        if abs(auc - 0.5) > LEAKAGE_AUC_MARGIN:
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
