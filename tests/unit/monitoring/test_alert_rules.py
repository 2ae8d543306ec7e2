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

ALERTS = PROJECT_ROOT / "deploy" / "prometheus" / "alerts.yml"
RUNBOOKS = PROJECT_ROOT / "docs" / "runbooks"
TEAMS = {"data-pipelines", "ml-models", "platform", "oncall"}
SEVERITIES = {"page", "ticket", "info"}
#: Metrics that are not the processor's own: Prometheus' ``up``, and the review service's (issue 8).
FOREIGN = {"up", "processor_review_queue_depth", "processor_review_oldest_age_seconds"}


def _rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def _exported_names() -> set[str]:
    registry = CollectorRegistry()
    Metrics.create(registry)
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


def test_every_runbook_belongs_to_an_alert() -> None:
    alerts = {rule["alert"] for rule in _rules()}
    pages = {p.stem for p in RUNBOOKS.glob("*.md")} - {"README"}
    assert pages == alerts
