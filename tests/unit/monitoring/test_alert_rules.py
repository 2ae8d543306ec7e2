"""The alert rules are owned and documented, and only use metrics that exist.

``make lint`` runs ``promtool check rules`` and ``promtool test rules`` on the same file; this test
checks what promtool does not: labels, runbooks on disk, metric names against the factory.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml
from prometheus_client import CollectorRegistry

from processor.config import PROJECT_ROOT
from processor.monitoring.metrics import Metrics
from processor.review.metrics import ReviewMetrics

ALERTS = PROJECT_ROOT / "deploy" / "prometheus" / "alerts.yml"
ALERT_TESTS = PROJECT_ROOT / "deploy" / "prometheus" / "alerts.test.yml"
RUNBOOKS = PROJECT_ROOT / "docs" / "runbooks"
TEAMS = {"data-pipelines", "ml-models", "platform", "oncall"}
SEVERITIES = {"page", "ticket", "info"}
#: Prometheus' own ``up``; every other name must come from a factory (processor or review app).
FOREIGN = {"up"}


def _rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def _exported_names() -> set[str]:
    """Every sample name the processor and the review app export (both scraped by Prometheus)."""
    registry = CollectorRegistry()
    Metrics.create(registry)
    ReviewMetrics.create(registry)
    names = set()
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}
    for family in registry.collect():
        names.update(family.name + suffix for suffix in suffixes.get(family.type, ("",)))
    return names


@pytest.mark.parametrize("rule", _rules(), ids=lambda r: r["alert"])
def test_every_alert_has_an_owner_a_severity_and_a_runbook(rule: dict[str, Any]) -> None:
    assert rule["labels"]["team"] in TEAMS
    assert rule["labels"]["severity"] in SEVERITIES
    url = rule["annotations"]["runbook_url"]
    assert url == f"docs/runbooks/{rule['alert']}.md"
    page = (PROJECT_ROOT / url).read_text()
    for section in ("## What it means", "## How to confirm", "## What to do", "## Who owns it"):
        assert section in page
    assert f"`{rule['labels']['team']}`" in page


@pytest.mark.parametrize("rule", _rules(), ids=lambda r: r["alert"])
def test_alerts_use_metrics_the_processor_exports(rule: dict[str, Any]) -> None:
    exported = _exported_names()
    used = set(re.findall(r"\b(processor_[a-z_]+|up)\b(?=\s*[{\[)\s]|$)", rule["expr"]))
    assert used, rule["expr"]
    assert used - exported - FOREIGN == set()


def _label_names() -> dict[str, set[str]]:
    """Sample name -> the labels it carries, plus the ones Prometheus adds when it scrapes."""
    registry = CollectorRegistry()
    metrics = [*Metrics.create(registry).__dict__.values(), *ReviewMetrics.create(registry).__dict__.values()]
    metrics += list(Metrics.create(CollectorRegistry()).quality.__dict__.values())
    labels: dict[str, set[str]] = {}
    for metric in metrics:
        names = getattr(metric, "_labelnames", None)
        if names is None:
            continue
        for family in metric.describe():
            for suffix in ("", "_total", "_bucket", "_sum", "_count"):
                extra = {"le"} if suffix == "_bucket" else set()
                labels[family.name + suffix] = set(names) | extra | {"instance", "job", "role"}
    return labels


@pytest.mark.parametrize("rule", _rules(), ids=lambda r: r["alert"])
def test_alerts_match_and_group_by_labels_the_metrics_carry(rule: dict[str, Any]) -> None:
    # a label the metric lacks matches nothing and the alert never fires: promtool cannot see that
    labels = _label_names()
    expr = rule["expr"]
    for name, matchers in re.findall(r"\b(processor_[a-z_]+)\{([^}]*)\}", expr):
        used = set(re.findall(r"([a-z_]+)\s*(?:=~|!~|!=|=)", matchers))
        assert used <= labels[name], (name, used - labels[name])
    for grouping, name in re.findall(r"by \(([^)]*)\) \((processor_[a-z_]+)", expr):
        used = {label.strip() for label in grouping.split(",")}
        assert used <= labels[name], (name, used - labels[name])


def test_alert_unit_tests_feed_series_the_exporters_produce() -> None:
    # promtool passes on any series name: a renamed metric would leave the alert tested on fiction
    labels = _label_names()
    tests = yaml.safe_load(ALERT_TESTS.read_text())["tests"]
    series = [s["series"] for test in tests for s in test["input_series"]]
    assert any(s.startswith("processor_review_oldest_item_age_seconds{") for s in series)
    for text in series:
        name, _, matchers = text.partition("{")
        assert name in labels or name == "up", name
        if name != "up":
            used = set(re.findall(r"([a-z_]+)=", matchers))
            assert used <= labels[name], (name, used - labels[name])


def test_every_runbook_belongs_to_an_alert() -> None:
    alerts = {rule["alert"] for rule in _rules()}
    pages = {p.stem for p in RUNBOOKS.glob("*.md")} - {"README"}
    assert pages == alerts
