"""``processor models bootstrap``: a loadable model per event type on a fresh system, in one command.

For each event type of ``config/pipelines.yaml`` it keeps the newest artifact when a processor would
load it (checksums, feature list against the serving code, LightGBM reads it: the registry's
``check_loadable``) and otherwise trains one on generated history: synthetic sign-ups and
documents, and the real Hadoop Jira tickets replayed (``processor simulate``). ``processor demo``
and docker-compose's ``train`` service both use it; it is idempotent, so a restart trains nothing.

The history is generated, so two of training's guards meet data they were not written for, and
the bootstrap says so each time it trains (``RELAXED`` and ``SETTINGS``):

- ``stale_data`` is overridden. It stops a model trained on an old export of production traffic;
  the replayed Jira tickets are 2020-2024 by design, and a generated history is as fresh as the
  bootstrap run. Nothing here describes live traffic yet: retrain on real history
  (``processor train --events-topic ... --feedback``) once there is some.
- ``distribution_shift`` is kept, and the history spans 14 days instead of the simulator's one
  hour: hour-of-day and day-of-week features need training and validation to cover the same
  cycles, or the newest-first validation split holds hours that training never saw (PSI ~9 on
  ``hour_of_day_utc``) and the guard rightly refuses.

Every other guard (label counts, one class only, leaky feature, random split) stays on.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from processor.config import Settings, load_pipelines
from processor.errors import ConfigError, ProcessorError
from processor.features import load_feature_module
from processor.serving.artifact import latest_artifact
from processor.serving.registry import check_loadable

#: synthetic events per type; Jira replays the whole real dataset (2,503 labelled tickets)
HISTORY_COUNTS = {"user_signed_up": 12_000, "document_uploaded": 12_000, "jira_ticket_created": 2_503}
DEFAULT_COUNT = 10_000
HISTORY_SPAN_S = 14 * 86_400.0
HISTORY_SEED = 1000

RELAXED = {
    "stale_data": "the history is generated (and Jira's replays real 2020-2024 tickets): its age says "
    "nothing about live traffic; retrain on real history once there is some",
}
SETTINGS = {
    "span": "14 days of event time (not 1 h): training and validation cover the same hours and weekdays, "
    "so the distribution_shift guard stays on",
}


@dataclass(frozen=True, slots=True)
class BootstrapOutcome:
    event_type: str
    version: str
    trained: bool  # False: a loadable artifact was already there
    reason: str  # why it was trained, or "loads"


def bootstrap_models(
    settings: Settings,
    *,
    event_types: Sequence[str] | None = None,
    history_dir: Path | None = None,
    say: Callable[[str], None] = print,
) -> list[BootstrapOutcome]:
    """Train every missing or unloadable model of ``event_types`` (default: all of the pipelines)."""
    from processor.train_cli import require_training_libraries

    pipelines = load_pipelines(settings.pipelines_file)
    types = list(event_types or pipelines.event_types)
    unknown = [t for t in types if t not in pipelines.event_types]
    if unknown:
        raise ConfigError("unknown_event_type", f"no pipeline for {unknown}: one of {list(pipelines.event_types)}")

    outcomes: list[BootstrapOutcome] = []
    to_train: list[tuple[str, str]] = []
    for event_type in types:
        ref = latest_artifact(settings.models.dir, event_type)
        if ref is None:
            to_train.append((event_type, "missing"))
            say(f"model for {event_type}: none in {settings.models.dir}: training one")
            continue
        cfg = pipelines.event_types[event_type]
        try:  # an artifact of older serving code (other features), or a damaged one, would only be refused
            check_loadable(ref, load_feature_module(cfg.features or event_type, features_dir=settings.features_dir))
        except ProcessorError as exc:
            to_train.append((event_type, f"{ref.version} does not load ({exc.code})"))
            say(f"model for {event_type}: {ref.version} does not load ({exc.code}: {exc}): training a new one")
        else:
            outcomes.append(BootstrapOutcome(event_type, ref.version, trained=False, reason="loads"))
            say(f"model for {event_type}: {ref.version} loads, kept")
    if not to_train:
        return outcomes

    require_training_libraries("processor models bootstrap")
    for guard, why in RELAXED.items():
        say(f"guard relaxed: {guard}: {why}")
    for name, why in SETTINGS.items():
        say(f"history {name}: {why}")
    if history_dir is not None:
        history_dir.mkdir(parents=True, exist_ok=True)
        outcomes += _train_all(settings, to_train, history_dir, say)
    else:
        with tempfile.TemporaryDirectory(prefix="processor-bootstrap-") as tmp:
            outcomes += _train_all(settings, to_train, Path(tmp), say)
    return outcomes


def _train_all(
    settings: Settings, to_train: list[tuple[str, str]], folder: Path, say: Callable[[str], None]
) -> list[BootstrapOutcome]:
    from processor.devtools.simulate import run_simulate
    from processor.training.training import Guards, format_result, train_model

    pipelines = load_pipelines(settings.pipelines_file)
    outcomes = []
    for event_type, reason in to_train:
        path = folder / f"{event_type}.history.jsonl"
        run_simulate(
            settings,
            count=HISTORY_COUNTS.get(event_type, DEFAULT_COUNT),
            seed=HISTORY_SEED,
            faults_spec="none",
            out=path,
            topic=None,
            types=(event_type,),
            span_s=HISTORY_SPAN_S,
        )
        labels = path.with_name(path.name.replace(".jsonl", ".labels.jsonl"))
        result = train_model(
            event_type=event_type,
            events_path=path,
            labels_path=labels if labels.exists() else None,
            settings=settings,
            pipelines=pipelines,
            guards=Guards(allow_stale=True),  # RELAXED; every other guard stays on
        )
        say(format_result(result))
        outcomes.append(BootstrapOutcome(event_type, result.artifact.version, trained=True, reason=reason))
    return outcomes


def run_bootstrap(settings: Settings, event_types: Sequence[str] | None, history_dir: Path | None) -> int:
    outcomes = bootstrap_models(settings, event_types=event_types, history_dir=history_dir)
    trained = [o for o in outcomes if o.trained]
    print(
        f"models ready in {settings.models.dir}: "
        + ", ".join(f"{o.event_type} {o.version}{' (trained)' if o.trained else ''}" for o in outcomes)
    )
    if trained:
        print("nothing promoted: the newest artifact serves (processor model promote pins a version)")
    return 0
