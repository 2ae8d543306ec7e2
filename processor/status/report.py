"""The operator's screen: built from scrapes of the processors and the review app, and the kill
switch as Redis holds it, then rendered as text or JSON.

Every section degrades on its own: a source that cannot be read is named in ``problems`` and its
sections say "unknown", the others still show. Counters become rates from two scrapes
``interval_s`` apart; with one scrape the screen shows totals.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any

from processor.decide.killswitch import SwitchState
from processor.status.scrape import Scrape

#: PSI above this is a significant shift (the drift alerts' threshold).
PSI_ALERT = 0.25
#: A shadow model (scored, measured, never acted on) is any info gauge whose name says "shadow"
#: and that carries ``event_type`` and ``version``: ``processor_model_shadow_info`` or the like.
_SHADOW = re.compile(r"^processor_.*shadow.*_info$")


@dataclass
class Throughput:
    inputs_total: float | None = None
    inputs_per_s: float | None = None
    outcomes_total: dict[str, float] = field(default_factory=dict)
    outcomes_per_s: dict[str, float] = field(default_factory=dict)
    fallback_share: float | None = None  # of decisions since the processors started


@dataclass
class SwitchRow:
    scope: str
    mode: str
    reason: str | None = None
    since: str | None = None
    by: str | None = None
    source: str = "redis"  # or "metrics" when Redis could not be read


@dataclass
class ModelRow:
    event_type: str
    active: list[str] = field(default_factory=list)
    shadow: list[str] = field(default_factory=list)


@dataclass
class DriftRow:
    event_type: str
    feature: str
    psi: float
    js_distance: float | None = None


@dataclass
class QuarantineRow:
    stage: str
    error_code: str
    total: float
    per_s: float | None = None


@dataclass
class ReviewRow:
    event_type: str
    depth: float
    oldest_age_s: float | None = None
    overdue: float | None = None


@dataclass
class SourceRow:
    name: str
    target: str
    ok: bool
    error: str | None = None


@dataclass
class StatusReport:
    sources: list[SourceRow] = field(default_factory=list)
    processors_up: int = 0
    healthy: list[bool] = field(default_factory=list)
    dependencies: dict[str, bool] = field(default_factory=dict)
    throughput: Throughput = field(default_factory=Throughput)
    lag_total: float | None = None
    lag_by_partition: dict[str, float] = field(default_factory=dict)
    reorder_buffered: float | None = None
    killswitch: list[SwitchRow] = field(default_factory=list)
    models: list[ModelRow] = field(default_factory=list)
    top_drift: list[DriftRow] = field(default_factory=list)
    score_psi: dict[str, float] = field(default_factory=dict)
    silent_failures: list[str] = field(default_factory=list)
    quarantine: list[QuarantineRow] = field(default_factory=list)
    review: list[ReviewRow] | None = None  # None: the review app was not read
    interval_s: float = 0.0

    @property
    def problems(self) -> list[str]:
        return [f"{s.name}: {s.error}" for s in self.sources if not s.ok and s.error]

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["problems"] = self.problems
        cleaned: dict[str, Any] = _finite(data)
        return cleaned


def _finite(value: Any) -> Any:
    """JSON has no NaN: a gauge with nothing to say becomes null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


# -- building ----------------------------------------------------------------------------------


def _sum_by(scrapes: list[Scrape], name: str, *labels: str) -> dict[tuple[str, ...], float]:
    out: dict[tuple[str, ...], float] = defaultdict(float)
    for scrape in scrapes:
        for s in scrape.named(name):
            if not math.isnan(s.value):
                out[tuple(s.labels.get(label, "") for label in labels)] += s.value
    return dict(out)


def _max_by(scrapes: list[Scrape], name: str, *labels: str) -> dict[tuple[str, ...], float]:
    out: dict[tuple[str, ...], float] = {}
    for scrape in scrapes:
        for s in scrape.named(name):
            if math.isnan(s.value):
                continue
            key = tuple(s.labels.get(label, "") for label in labels)
            out[key] = max(out.get(key, s.value), s.value)
    return out


def _rate(now: dict[tuple[str, ...], float], before: dict[tuple[str, ...], float], dt: float) -> dict[str, float]:
    # a counter that went down is a restarted process: its new total is the increase
    return {
        "/".join(k): max(0.0, v - before.get(k, 0.0)) / dt if v >= before.get(k, 0.0) else v / dt
        for k, v in now.items()
    }


def build(
    processors: list[Scrape],
    earlier: list[Scrape],
    review: Scrape | None,
    switches: list[SwitchState] | None,
    *,
    sources: list[SourceRow],
    top: int = 5,
) -> StatusReport:
    """The report from the processors' latest scrapes (``earlier``: the same endpoints
    ``interval`` before, for rates; may be empty), the review app's, and the kill-switch keys."""
    report = StatusReport(sources=sources, processors_up=len(processors))
    if processors:
        _processor_sections(report, processors, earlier, top)
    report.killswitch = _switches(switches, processors)
    if review is not None:
        depth = _max_by([review], "processor_review_queue_depth", "event_type")
        oldest = _max_by([review], "processor_review_oldest_item_age_seconds", "event_type")
        overdue = _max_by([review], "processor_review_overdue_items", "event_type")
        report.review = [
            ReviewRow(t, depth.get((t,), 0.0), oldest.get((t,)), overdue.get((t,)))
            for (t,) in sorted(set(depth) | set(oldest))
            if t != "unknown" or depth.get((t,), 0.0) > 0  # items of no configured type: only when there are some
        ]
    return report


def _processor_sections(report: StatusReport, processors: list[Scrape], earlier: list[Scrape], top: int) -> None:
    report.healthy = [s.total("processor_healthy") == 1 for s in processors]
    for (dep,), up in _sum_by(processors, "processor_dependency_up", "dependency").items():
        # min over processors: one process that cannot reach Redis is a problem worth showing
        report.dependencies[dep] = up >= len([s for s in processors if any(s.named("processor_dependency_up"))])

    t = report.throughput
    inputs = _sum_by(processors, "processor_input_messages_total")
    outcomes = _sum_by(processors, "processor_outcomes_total", "outcome")
    t.inputs_total = inputs.get((), None)
    t.outcomes_total = {k[0]: v for k, v in sorted(outcomes.items())}
    if earlier:
        dt = max(1e-3, min(s.at for s in processors) - max(s.at for s in earlier))
        report.interval_s = dt
        t.inputs_per_s = _rate(inputs, _sum_by(earlier, "processor_input_messages_total"), dt).get("", 0.0)
        t.outcomes_per_s = _rate(outcomes, _sum_by(earlier, "processor_outcomes_total", "outcome"), dt)
    decisions = _sum_by(processors, "processor_decisions_total", "decision_source")
    all_decisions = sum(decisions.values())
    if all_decisions:
        t.fallback_share = decisions.get(("fallback",), 0.0) / all_decisions

    lag = _sum_by(processors, "processor_consumer_lag_messages", "partition")
    if lag or any("processor_consumer_lag_messages" in s.names() for s in processors):
        report.lag_total = sum(lag.values())
        report.lag_by_partition = {k[0]: v for k, v in sorted(lag.items(), key=lambda kv: _int(kv[0][0]))}
    buffered = _sum_by(processors, "processor_reorder_buffered_events")
    report.reorder_buffered = buffered.get((), None)

    active = _max_by(processors, "processor_model_info", "event_type", "version")
    shadow: dict[tuple[str, ...], float] = {}
    for scrape in processors:
        for name in scrape.names():
            if _SHADOW.match(name):
                shadow.update(_max_by([scrape], name, "event_type", "version"))
    by_type: dict[str, ModelRow] = {}
    for (event_type, version), value in sorted(active.items()):
        if value > 0:
            by_type.setdefault(event_type, ModelRow(event_type)).active.append(version)
    for (event_type, version), value in sorted(shadow.items()):
        if value > 0 and event_type and version:
            by_type.setdefault(event_type, ModelRow(event_type)).shadow.append(version)
    report.models = list(by_type.values())

    psi = _max_by(processors, "processor_feature_psi", "event_type", "feature")
    js = _max_by(processors, "processor_feature_js_distance", "event_type", "feature")
    ranked = sorted(psi.items(), key=lambda kv: kv[1], reverse=True)[:top]
    report.top_drift = [DriftRow(et, feat, value, js.get((et, feat))) for (et, feat), value in ranked]
    report.score_psi = {k[0]: v for k, v in sorted(_max_by(processors, "processor_score_psi", "event_type").items())}
    firing = _max_by(processors, "processor_silent_failure", "event_type", "detector")
    report.silent_failures = [f"{et}: {det}" for (et, det), v in sorted(firing.items()) if v >= 1]

    quarantined = _sum_by(processors, "processor_quarantined_total", "stage", "error_code")
    rates = (
        _rate(quarantined, _sum_by(earlier, "processor_quarantined_total", "stage", "error_code"), report.interval_s)
        if earlier
        else {}
    )
    report.quarantine = [
        QuarantineRow(stage, code, total, rates.get(f"{stage}/{code}"))
        for (stage, code), total in sorted(quarantined.items(), key=lambda kv: kv[1], reverse=True)[:top]
        if total > 0
    ]


def _switches(switches: list[SwitchState] | None, processors: list[Scrape]) -> list[SwitchRow]:
    if switches is not None:
        return [SwitchRow(s.scope, s.mode, s.reason, s.since, s.by) for s in switches]
    # Redis unreadable: what the processors last read is the next best thing
    engaged = _max_by(processors, "processor_killswitch_engaged", "scope", "mode")
    rows = []
    for scope in sorted({scope for scope, _ in engaged}):
        on = [mode for (sc, mode), v in engaged.items() if sc == scope and v >= 1]
        rows.append(SwitchRow(scope, next((m for m in on if m != "off"), "off"), source="metrics"))
    return rows


def _int(text: str) -> int:
    return int(text) if text.isdigit() else 1 << 30


# -- rendering ---------------------------------------------------------------------------------


def _num(value: float | None, unit: str = "") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "?"
    if abs(value) >= 100 or value == int(value):
        return f"{value:,.0f}{unit}"
    return f"{value:,.2f}{unit}"


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def render(report: StatusReport) -> str:
    lines: list[str] = []
    add = lines.append
    up = report.processors_up
    if up:
        healthy = sum(report.healthy)
        deps = ", ".join(f"{d} {'up' if ok else 'DOWN'}" for d, ok in sorted(report.dependencies.items()))
        add(f"processors   {up} answering, {healthy} healthy" + (f"; {deps}" if deps else ""))
        t = report.throughput
        rate = (
            f"{_num(t.inputs_per_s)}/s over {report.interval_s:.1f} s"
            if t.inputs_per_s is not None
            else "rate: --interval > 0"
        )
        add(f"throughput   {rate}; {_num(t.inputs_total)} inputs since start")
        if t.outcomes_total:
            parts = []
            for outcome, total in t.outcomes_total.items():
                per_s = t.outcomes_per_s.get(outcome)
                parts.append(f"{outcome} {_num(total)}" + (f" ({_num(per_s)}/s)" if per_s is not None else ""))
            add(f"outcomes     {', '.join(parts)}")
        if t.fallback_share is not None:
            add(f"fallback     {t.fallback_share:.1%} of decisions since the processors started")
        if report.lag_total is not None:
            worst = sorted(report.lag_by_partition.items(), key=lambda kv: kv[1], reverse=True)[:3]
            detail = ", ".join(f"p{p} {_num(v)}" for p, v in worst if v > 0)
            add(f"lag          {_num(report.lag_total)} messages" + (f" (most behind: {detail})" if detail else ""))
        if report.reorder_buffered is not None:
            add(f"reorder      {_num(report.reorder_buffered)} events held")
    else:
        add("processors   none answered: throughput, lag, models, drift and quarantine unknown")

    add("")
    add("kill switch")
    if not report.killswitch:
        add("  unknown (Redis and the processors could not be read)")
    for row in report.killswitch:
        detail = "" if row.mode == "off" else f"  since {row.since or '?'} by {row.by or '?'}: {row.reason or ''}"
        source = "" if row.source == "redis" else "  (as the processors last read it: Redis unreachable)"
        add(f"  {row.scope:<24} {row.mode:<9}{detail}{source}".rstrip())

    if up:
        add("")
        add("models       active                     shadow")
        if not report.models:
            add("  none loaded (every decision is fallback)")
        for m in report.models:
            add(f"  {m.event_type:<24} {', '.join(m.active) or '-':<26} {', '.join(m.shadow) or '-'}")
        add("")
        add(f"drift        top features by PSI (alert above {PSI_ALERT})")
        if not report.top_drift:
            add("  not enough events in the drift window yet")
        for d in report.top_drift:
            flag = "  <- drifting" if d.psi > PSI_ALERT else ""
            add(f"  {d.event_type:<24} {d.feature:<28} PSI {d.psi:6.3f}{flag}")
        scores = ", ".join(f"{t} {v:.3f}" for t, v in report.score_psi.items() if not math.isnan(v))
        if scores:
            add(f"  score PSI: {scores}")
        if report.silent_failures:
            add(f"  silent failures firing: {', '.join(report.silent_failures)}")
        add("")
        add("quarantine   top reasons (stage/error_code)")
        if not report.quarantine:
            add("  nothing quarantined")
        for q in report.quarantine:
            rate = f"  ({_num(q.per_s)}/s)" if q.per_s is not None else ""
            add(f"  {q.stage + '/' + q.error_code:<44} {_num(q.total):>10}{rate}")

    add("")
    add("review       waiting   oldest   overdue")
    if report.review is None:
        add("  unknown (the review app was not read)")
    elif not report.review:
        add("  nothing waiting")
    else:
        for r in report.review:
            add(f"  {r.event_type:<24} {_num(r.depth):>7}   {_age(r.oldest_age_s):>6}   {_num(r.overdue):>7}")

    if report.problems:
        add("")
        for problem in report.problems:
            add(f"UNREACHABLE  {problem}")
    return "\n".join(line.rstrip() for line in lines)
