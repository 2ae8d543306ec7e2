"""Training on real data: 2,503 Apache Hadoop bug reports (data/jira-hadoop, CC BY 4.0, GitBugs).

The CSV becomes ``jira_ticket_created`` events through the simulator's own mapping
(``processor.devtools.simulate.jira_dataset``): only what the creation webhook would carry, with urgency
(priority Blocker or Critical) as the label and the priority left out of the features. A clean, Jira-only simulated stream replays every ticket once at its
real creation time; ``write_jsonl`` writes the events and a labels file joined by ``event_id``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import lightgbm as lgb
import orjson
import pytest

from processor.config import PipelinesConfig, load_settings
from processor.devtools.simulate import FaultMix, SimulatedMessage, load_tickets, simulate, write_jsonl
from processor.devtools.simulate.jira_dataset import DEFAULT_CSV, EVENT_TYPE
from processor.training.training import TrainingResult, format_result, train_model

NOW = datetime(2025, 1, 15, tzinfo=UTC)  # two weeks after the newest ticket: fresh for the stale guard
Jsonl = Callable[..., Path]
WriteHadoop = Callable[..., tuple[Path, Path | None]]

pytestmark = pytest.mark.skipif(not DEFAULT_CSV.is_file(), reason="data/jira-hadoop/hadoop_bugs.csv is not present")


@pytest.fixture(scope="module")
def hadoop_messages() -> list[SimulatedMessage]:
    """Every ticket of the CSV once, as a clean ``jira_ticket_created`` message with its label."""
    return simulate(len(load_tickets(DEFAULT_CSV)), seed=1, types=(EVENT_TYPE,), faults=FaultMix.none())


@pytest.fixture
def write_hadoop(hadoop_messages: list[SimulatedMessage], jsonl: Jsonl) -> WriteHadoop:
    """``write(directory, inline)``: the events file, and the labels file unless the labels are inline."""

    def write(directory: Path, *, inline: bool) -> tuple[Path, Path | None]:
        events_path = directory / "jira.jsonl"
        if inline:
            events: list[dict[str, Any]] = []
            for message in hadoop_messages:
                assert message.as_json is not None
                event = orjson.loads(message.as_json)
                events.append(event if message.label is None else {**event, "label": message.label})
            return jsonl(events_path, events), None
        # Label lines carry an extra key (event_type), which training ignores.
        report = write_jsonl(events_path, hadoop_messages)
        return report.events_path, report.labels_path

    return write


def _train(pipelines: PipelinesConfig, events_path: Path, labels_path: Path | None, models_dir: Path) -> TrainingResult:
    return train_model(
        event_type=EVENT_TYPE,
        events_path=events_path,
        labels_path=labels_path,
        settings=load_settings(models={"dir": models_dir}),
        pipelines=pipelines,
        now=NOW,
    )


def test_trains_on_the_hadoop_tickets(tmp_path: Path, pipelines: PipelinesConfig, write_hadoop: WriteHadoop) -> None:
    events_path, labels_path = write_hadoop(tmp_path, inline=False)
    result = _train(pipelines, events_path, labels_path, tmp_path / "models")
    print("\n" + format_result(result))

    d = result.data
    assert (d.lines, d.rows, d.skipped_invalid, d.skipped_duplicate) == (2503, 2503, 0, 0)
    assert d.labelled == 2503  # every ticket has a priority, so every ticket has a label
    assert d.positives == 162  # Blocker 76 + Critical 86
    assert result.n_train + result.n_valid == 2503
    assert result.train_range[1] < result.valid_range[0]
    # Whatever the model manages must at least beat the class prior on held-out (newer) tickets.
    auc, baseline_auc = result.metrics["roc_auc"], result.baseline_metrics["roc_auc"]
    assert baseline_auc == 0.5
    assert 0.6 < auc <= 1.0
    assert result.metrics["pr_auc"] > result.baseline_metrics["pr_auc"]
    assert result.metrics["log_loss"] < result.baseline_metrics["log_loss"]
    meta = result.artifact.metadata()
    assert "priority_code" not in meta["feature_names"]  # the label's own field is no input
    assert meta["guards"]["leaky_feature"]["status"] == "passed"

    booster = lgb.Booster(model_file=str(result.artifact.model_path))
    assert booster.num_feature() == len(result.artifact.metadata()["feature_names"])


def test_inline_labels_are_stripped_before_strict_validation(
    tmp_path: Path, pipelines: PipelinesConfig, write_hadoop: WriteHadoop
) -> None:
    """jira_ticket_created validates strictly: an unstripped ``label`` key would reject every line.

    With the same events and labels, inline and file labels must give the very same model.
    """
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    runs = []
    for sub, inline in (("a", True), ("b", False)):
        events_path, labels_path = write_hadoop(tmp_path / sub, inline=inline)
        runs.append(_train(pipelines, events_path, labels_path, tmp_path / sub / "models"))
    inline_run, file_run = runs
    assert inline_run.data.skipped_invalid == 0
    assert inline_run.data.labelled == file_run.data.labelled == 2503
    assert inline_run.artifact.model_path.read_text() == file_run.artifact.model_path.read_text()
