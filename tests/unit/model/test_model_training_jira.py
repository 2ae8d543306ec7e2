"""Training on real data: 2,503 Apache Hadoop bug reports (data/jira-hadoop, CC BY 4.0, GitBugs).

The CSV is mapped to ``jira_ticket_created`` events by a small local mapping. Only what the
creation webhook would carry is used: the current ``Status`` and the ``Resolution`` are outcomes
(the resolution is the label), so the event says ``status="Open"``. The CSV has no issue key,
reporter, components or labels: ``issue_key`` is synthesised as ``HADOOP-<issue id>``, the
reporter is empty (so the per-reporter history counter is always 0) and the lists are empty.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import lightgbm as lgb
import pytest

from processor.config import PROJECT_ROOT, PipelinesConfig, Settings, load_settings
from processor.model.training import format_result, train_model

CSV_PATH = PROJECT_ROOT / "data" / "jira-hadoop" / "hadoop_bugs.csv"
NOW = datetime(2025, 6, 1, tzinfo=UTC)

NOT_ACTIONABLE = frozenset(
    {
        "Duplicate",
        "Won't Fix",
        "Invalid",
        "Not A Problem",
        "Cannot Reproduce",
        "Not A Bug",
        "Works for Me",
        "Abandoned",
        "Won't Do",
        "Later",
        "Information Provided",
    }
)
ACTIONABLE = frozenset({"Fixed", "Done", "Implemented", "Resolved", "Workaround", "Pending Closed"})

pytestmark = pytest.mark.skipif(not CSV_PATH.is_file(), reason="data/jira-hadoop/hadoop_bugs.csv is not present")


def _label(resolution: str) -> str | None:
    resolution = resolution.strip()
    if resolution in NOT_ACTIONABLE:
        return "not_actionable"
    if resolution in ACTIONABLE:
        return "actionable"
    return None  # unresolved: it happened (history) but has no outcome yet


def jira_events(path: Path = CSV_PATH) -> Iterator[tuple[dict[str, Any], str | None]]:
    """(event, label) per CSV row, in file order."""
    with path.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            created = datetime.strptime(row["Created"], "%d/%b/%y %H:%M").replace(tzinfo=UTC)
            ms = int(created.timestamp() * 1000)
            key = f"HADOOP-{row['Issue id']}"
            event = {
                "event_id": f"jira-{row['Issue id']}",
                "event_type": "jira_ticket_created",
                "occurred_at": ms,
                "entity_id": key,
                "source": "gitbugs",
                "issue_id": row["Issue id"],
                "issue_key": key,
                "project_key": "HADOOP",
                "issue_type": "Bug",
                "priority": row["Priority"],
                "summary": row["Summary"],
                "description": row["Description"] or None,
                "reporter": "",
                "components": [],
                "affects_versions": [v.strip() for v in row["Affects Version/s"].split(",") if v.strip()],
                "labels": [],
                "status": "Open",
                "created": ms,
                "webhook_event": "jira:issue_created",
            }
            yield event, _label(row["Resolution"])


def _write(directory: Path, inline: bool) -> tuple[Path, Path | None]:
    events_path = directory / "jira.jsonl"
    labels_path = directory / "jira.labels.jsonl"
    with events_path.open("w", encoding="utf-8") as events, labels_path.open("w", encoding="utf-8") as labels:
        for event, label in jira_events():
            if inline and label is not None:
                event = {**event, "label": label}
            events.write(json.dumps(event) + "\n")
            if label is not None:
                # Extra keys in a label line are ignored.
                labels.write(json.dumps({"event_id": event["event_id"], "label": label, "source": "resolution"}) + "\n")
    return events_path, (None if inline else labels_path)


def test_trains_on_the_hadoop_tickets(tmp_path: Path, pipelines: PipelinesConfig) -> None:
    events_path, labels_path = _write(tmp_path, inline=False)
    settings = load_settings(models={"dir": tmp_path / "models"})
    result = train_model(
        event_type="jira_ticket_created",
        events_path=events_path,
        labels_path=labels_path,
        settings=settings,
        pipelines=pipelines,
        now=NOW,
    )
    print("\n" + format_result(result))

    d = result.data
    assert (d.lines, d.rows, d.skipped_invalid, d.skipped_duplicate) == (2503, 2503, 0, 0)
    assert d.labelled == 1733  # 770 tickets are unresolved
    assert d.positives == 310
    assert result.n_train + result.n_valid == 1733
    assert result.train_range[1] < result.valid_range[0]
    # Whatever the model manages must at least beat the class prior on held-out (newer) tickets.
    auc, baseline_auc = result.metrics["roc_auc"], result.baseline_metrics["roc_auc"]
    assert baseline_auc == 0.5
    assert 0.55 < auc <= 1.0
    assert result.metrics["pr_auc"] > result.baseline_metrics["pr_auc"]

    booster = lgb.Booster(model_file=str(result.artifact.model_path))
    assert booster.num_feature() == len(result.artifact.metadata()["feature_names"])


def test_inline_labels_are_stripped_before_strict_validation(
    tmp_path: Path, settings_for: Callable[[], Settings], pipelines: PipelinesConfig
) -> None:
    """jira_ticket_created validates strictly: an unstripped ``label`` key would reject every line.

    With the same events and labels, inline and file labels must give the very same model.
    """
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    runs = []
    for sub, inline in (("a", True), ("b", False)):
        events_path, labels_path = _write(tmp_path / sub, inline=inline)
        runs.append(
            train_model(
                event_type="jira_ticket_created",
                events_path=events_path,
                labels_path=labels_path,
                settings=load_settings(models={"dir": tmp_path / sub / "models"}),
                pipelines=pipelines,
                now=NOW,
            )
        )
    inline_run, file_run = runs
    assert inline_run.data.skipped_invalid == 0
    assert inline_run.data.labelled == file_run.data.labelled == 1733
    assert inline_run.artifact.model_path.read_text() == file_run.artifact.model_path.read_text()
