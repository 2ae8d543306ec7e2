"""The Grafana dashboard parses, its panels are well formed, and every query is valid PromQL over
metrics that exist (promtool checks the queries, with Grafana's variables filled in)."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import yaml
from prometheus_client import CollectorRegistry

from processor.config import PROJECT_ROOT
from processor.monitoring.metrics import Metrics
from processor.review.metrics import ReviewMetrics

DASHBOARD = PROJECT_ROOT / "deploy" / "grafana" / "dashboards" / "processor.json"
FOREIGN = {"up"}


def _panels() -> list[dict[str, Any]]:
    return [p for p in json.loads(DASHBOARD.read_text())["panels"] if p["type"] != "row"]


def _exprs() -> list[str]:
    return [t["expr"] for p in _panels() for t in p["targets"]]


def _names(registry: CollectorRegistry) -> set[str]:
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}
    return {f.name + s for f in registry.collect() for s in suffixes.get(f.type, ("",))}


def _exported() -> set[str]:
    registry = CollectorRegistry()
    Metrics.create(registry)
    return _names(registry)


def _review_exported() -> set[str]:
    registry = CollectorRegistry()
    ReviewMetrics.create(registry)
    return _names(registry)


def test_panels_have_unique_ids_targets_and_a_place() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    assert dashboard["uid"] == "processor-overview"
    for panel in _panels():
        assert panel["targets"], panel["title"]
        grid = panel["gridPos"]
        assert grid["x"] >= 0 and grid["x"] + grid["w"] <= 24, panel["title"]


def test_queries_use_metrics_the_processor_exports() -> None:
    exported = _exported()
    used = {name for expr in _exprs() for name in re.findall(r"\b(processor_[a-z_]+|up)\b(?=\s*[{\[)])", expr)}
    assert used - exported - _review_exported() - FOREIGN == set()
    # the review backlog (queue depth and oldest age, the ProcessorReviewBacklog alert's inputs)
    assert {"processor_review_queue_depth", "processor_review_oldest_item_age_seconds"} <= used
    # every metric family of the processor is on the dashboard somewhere
    families = {re.sub(r"_(bucket|sum|count)$", "", n) for n in exported}
    shown = {re.sub(r"_(bucket|sum|count)$", "", n) for n in used}
    # (the evaluation counter and the kill-switch start time are for alerts and `processor status`)
    not_charted = {
        "processor_monitor_evaluations_total",
        "processor_killswitch_since_timestamp_seconds",
        "processor_healthy",
    }
    assert families - shown - not_charted == set()


def test_queries_are_valid_promql(tmp_path: Path) -> None:
    subprocess.run(["bash", str(PROJECT_ROOT / "deploy/local/ensure-prometheus.sh")], check=True)
    rules = [
        {"record": f"dashboard:query_{i}", "expr": expr.replace("$__rate_interval", "5m").replace("$event_type", ".*")}
        for i, expr in enumerate(_exprs())
    ]
    path = tmp_path / "queries.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    result = subprocess.run(["promtool", "check", "rules", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
