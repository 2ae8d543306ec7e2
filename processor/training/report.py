"""The training report: one self-contained HTML file a person would rather look at than read.

Plots (ROC, precision-recall, calibration, feature importance, score histogram by class) are PNGs
drawn with matplotlib's Agg backend (no display needed) and embedded as base64, so the file can be
mailed or attached to a ticket as is. Tables show the data, the split, the guards and the metrics
of the model beside its baselines on the same validation rows.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")  # before pyplot: no display, no GUI toolkit

import matplotlib.pyplot as plt
import numpy as np
import numpy.typing as npt

from processor.training.metrics import calibration_bins

_METRICS = ("roc_auc", "pr_auc", "log_loss", "brier", "ece")
_COLOURS = {"model": "#1f77b4", "logistic_regression": "#ff7f0e", "lightgbm": "#2ca02c", "class_prior": "#7f7f7f"}


def render_report(
    *,
    metadata: Mapping[str, Any],
    y_valid: npt.NDArray[np.float64],
    scores: Mapping[str, npt.NDArray[np.float64]],
    importance: Mapping[str, float],
) -> bytes:
    """The HTML report; ``scores`` maps a name (``model``, baselines) to its validation scores."""
    linear = metadata.get("model_kind") == "logistic_regression"
    measure = "|standardised coefficient|" if linear else "total gain"
    plots = [
        ("ROC curve (validation)", _roc(y_valid, scores)),
        ("Precision-recall (validation)", _pr(y_valid, scores)),
        ("Calibration (validation)", _calibration(y_valid, scores)),
        (f"Feature importance ({measure})", _importance(importance, measure)),
        ("Model score by true class (validation)", _histogram(y_valid, scores["model"])),
    ]
    evaluation = metadata.get("evaluation", {})
    rows = "".join(
        f"<tr><th>{html.escape(name)}</th>"
        + "".join(f"<td>{_fmt(evaluation.get(name, {}).get(k))}</td>" for k in _METRICS)
        + "</tr>"
        for name in scores
    )
    data, split = metadata.get("data", {}), metadata.get("split", {})
    guards = metadata.get("guards", {})
    guard_rows = "".join(
        f"<tr><th>{html.escape(name)}</th><td>{html.escape(str(g.get('status')))}</td>"
        f"<td>{html.escape(str(g.get('detail', '')))}</td></tr>"
        for name, g in guards.items()
    )
    warnings = "".join(f"<li>{html.escape(w)}</li>" for w in metadata.get("warnings", []))
    figures = "".join(
        f'<figure><img alt="{html.escape(title)}" src="data:image/png;base64,{png}"><figcaption>'
        f"{html.escape(title)}</figcaption></figure>"
        for title, png in plots
    )
    title = f"{metadata.get('event_type')} {metadata.get('version')}"
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Training report: {html.escape(title)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }}
table {{ border-collapse: collapse; margin: 1em 0; }}
th, td {{ border: 1px solid #ccc; padding: 4px 10px; text-align: right; }}
th {{ text-align: left; background: #f5f5f5; }}
figure {{ display: inline-block; margin: 0.5em; }} img {{ width: 520px; }}
.warn {{ color: #a00; }}
</style></head><body>
<h1>Training report: {html.escape(title)}</h1>
<p>Created {html.escape(str(metadata.get("created_at")))} by code {html.escape(str(metadata.get("code_version")))};
positive label <b>{html.escape(str(metadata.get("positive_label")))}</b>.</p>
<h2>Validation metrics (newest {_fmt(split.get("valid_fraction"))} of labelled events, by time)</h2>
<table><tr><th></th>{"".join(f"<th>{m}</th>" for m in _METRICS)}</tr>{rows}</table>
<p>Lower is better for log_loss, brier and ece (expected calibration error); higher for the AUCs.</p>
{f'<ul class="warn">{warnings}</ul>' if warnings else ""}
<h2>Plots</h2>{figures}
<h2>Data and split</h2>
<table>
<tr><th>source</th><td>{html.escape(str(data.get("source")))}</td></tr>
<tr><th>content sha256</th><td>{html.escape(str(data.get("sha256")))}</td></tr>
<tr><th>labels</th><td>{html.escape(str(data.get("labels_source")))}</td></tr>
<tr><th>events / labelled / positive</th><td>{data.get("rows")} / {data.get("labelled")} / {data.get("positives")}</td></tr>
<tr><th>event time range</th><td>{html.escape(str(data.get("first_occurred_at")))} .. {html.escape(str(data.get("last_occurred_at")))}</td></tr>
<tr><th>training split</th><td>{split.get("n_train")} rows, {html.escape(str(split.get("train_from")))} .. {html.escape(str(split.get("train_until")))}</td></tr>
<tr><th>validation split</th><td>{split.get("n_valid")} rows, {html.escape(str(split.get("valid_from")))} .. {html.escape(str(split.get("valid_until")))}</td></tr>
</table>
<h2>Guards</h2><table><tr><th>guard</th><th>status</th><th>detail</th></tr>{guard_rows}</table>
</body></html>
"""
    return page.encode("utf-8")


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    return html.escape(str(value)) if value is not None else "-"


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _curve_points(y: npt.NDArray[np.float64], s: npt.NDArray[np.float64]) -> tuple[Any, Any, Any]:
    order = np.argsort(-s, kind="mergesort")
    ys, ss = y[order], s[order]
    last = np.concatenate((np.flatnonzero(np.diff(ss)), [ss.size - 1]))
    tp = np.cumsum(ys)[last]
    fp = (last + 1) - tp
    return tp, fp, last + 1


def _roc(y: npt.NDArray[np.float64], scores: Mapping[str, npt.NDArray[np.float64]]) -> str:
    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    pos, neg = max(y.sum(), 1.0), max(y.size - y.sum(), 1.0)
    for name, s in scores.items():
        tp, fp, _ = _curve_points(y, s)
        ax.plot(np.concatenate(([0], fp / neg)), np.concatenate(([0], tp / pos)), label=name, color=_COLOURS.get(name))
    ax.plot([0, 1], [0, 1], ls=":", color="#bbb")
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.legend(loc="lower right")
    return _png(fig)


def _pr(y: npt.NDArray[np.float64], scores: Mapping[str, npt.NDArray[np.float64]]) -> str:
    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    pos = max(y.sum(), 1.0)
    for name, s in scores.items():
        tp, _, predicted = _curve_points(y, s)
        ax.step(tp / pos, tp / predicted, where="post", label=name, color=_COLOURS.get(name))
    ax.axhline(float(y.mean()), ls=":", color="#bbb")
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_ylim(0, 1.02)
    ax.legend(loc="upper right")
    return _png(fig)


def _calibration(y: npt.NDArray[np.float64], scores: Mapping[str, npt.NDArray[np.float64]]) -> str:
    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    for name, s in scores.items():
        bins = calibration_bins(y, s)
        ax.plot(
            [b["mean_predicted"] for b in bins],
            [b["observed_rate"] for b in bins],
            marker="o",
            label=name,
            color=_COLOURS.get(name),
        )
    ax.plot([0, 1], [0, 1], ls=":", color="#bbb")
    ax.set_xlabel("mean predicted probability (10 bins)")
    ax.set_ylabel("observed positive rate")
    ax.legend(loc="upper left")
    return _png(fig)


def _importance(importance: Mapping[str, float], measure: str, top: int = 20) -> str:
    items: Sequence[tuple[str, float]] = list(importance.items())[:top][::-1]
    fig, ax = plt.subplots(figsize=(5.5, max(2.5, 0.25 * len(items) + 1)))
    total = sum(importance.values()) or 1.0
    ax.barh([n for n, _ in items], [g / total for _, g in items], color=_COLOURS["model"])
    ax.set_xlabel(f"share of the sum of {measure}")
    return _png(fig)


def _histogram(y: npt.NDArray[np.float64], s: npt.NDArray[np.float64]) -> str:
    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    edges = [i / 40 for i in range(41)]
    ax.hist(s[y == 0], bins=edges, alpha=0.6, label="negative", density=True)
    ax.hist(s[y == 1], bins=edges, alpha=0.6, label="positive", density=True)
    ax.set_xlabel("score")
    ax.set_ylabel("density")
    ax.legend()
    return _png(fig)
