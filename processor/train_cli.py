"""``processor train``: arguments and the run, kept beside ``processor/cli.py`` so it stays small.

Only the arguments are defined at import: ``processor/cli.py`` builds every subcommand's parser,
also for ``processor run``, which must load neither :mod:`processor.training` nor the training
libraries (scikit-learn, matplotlib, scipy through the ``lightgbm`` package). That is why this
module lives outside the training package: ``run_train`` imports training when it runs, after
checking that the ``train`` extra is installed.
"""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

from processor.config import Settings, load_pipelines
from processor.errors import ConfigError

#: import name -> distribution of the libraries only training needs (``pip install 'processor[train]'``)
TRAINING_LIBRARIES = {"sklearn": "scikit-learn", "matplotlib": "matplotlib", "scipy": "scipy", "lightgbm": "lightgbm"}


def missing_training_libraries() -> list[str]:
    """The distributions of ``TRAINING_LIBRARIES`` that cannot be imported here (none: training can run)."""
    missing = []
    for module, distribution in TRAINING_LIBRARIES.items():
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            missing.append(distribution)
    return missing


def require_training_libraries(command: str = "processor train") -> None:
    """Raise a ``ConfigError`` saying what to install when the ``train`` extra is missing."""
    missing = missing_training_libraries()
    if missing:
        raise ConfigError(
            "training_libraries_missing",
            f"{command} needs {', '.join(missing)}, which serving does not install: "
            "pip install 'processor[train]' (or use the training image: make image builds processor:train)",
        )


def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--event-type", required=True)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--events", type=Path, help="history file: JSONL, or Avro (.avro) container file")
    source.add_argument("--events-topic", help="history from a Kafka topic (read_committed, from the beginning)")
    parser.add_argument("--labels", type=Path, default=None, help="JSONL of {event_id, label}")
    parser.add_argument(
        "--feedback",
        nargs="?",
        const="",
        default=None,
        metavar="TOPIC",
        help="also take human labels from the feedback topic (default: settings.topics.feedback); they win",
    )
    parser.add_argument("--valid-fraction", type=float, default=0.2, help="newest share of labelled rows held out")
    parser.add_argument(
        "--split", choices=["time", "random"], default="time", help="only time is accepted (random is refused)"
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--allow-stale", action="store_true", help="train although the newest event is too old")
    parser.add_argument("--allow-few-labels", action="store_true", help="train with fewer labels than configured")
    parser.add_argument("--allow-leaky", action="store_true", help="keep a feature that alone separates the labels")
    parser.add_argument("--allow-shift", action="store_true", help="train although train and validation differ")
    parser.add_argument("--no-progress", action="store_true", help="no progress output on stderr")


def run_train(settings: Settings, args: argparse.Namespace) -> int:
    require_training_libraries()
    from processor.serializers.schemas import SchemaStore
    from processor.training.progress import Progress
    from processor.training.sources import AvroFile, EventSource, JsonlFile, KafkaTopic, read_feedback_labels
    from processor.training.training import Guards, format_result, train_model

    schemas = SchemaStore(settings.schemas_dir)
    source: EventSource
    if args.events_topic:
        source = KafkaTopic(settings, args.events_topic)
    elif args.events.suffix == ".avro":
        source = AvroFile(args.events, schemas)
    else:
        source = JsonlFile(args.events)
    progress = Progress.silent() if args.no_progress else Progress.to_stderr()
    feedback = None
    if args.feedback is not None:
        topic = args.feedback or settings.topics.feedback
        progress.stage(f"reading human labels from {topic}")
        feedback = read_feedback_labels(settings, schemas, args.event_type, topic)
        progress.stage(
            f"{len(feedback.labels)} {args.event_type} labels from {feedback.records} feedback records "
            f"({feedback.invalid} invalid, {feedback.other_type} of other types)"
        )
        if not feedback.labels and args.labels is None:
            raise ConfigError("no_feedback_labels", f"no {args.event_type} labels on {topic}")
    result = train_model(
        event_type=args.event_type,
        events_path=args.events,
        labels_path=args.labels,
        settings=settings,
        pipelines=load_pipelines(settings.pipelines_file),
        valid_fraction=args.valid_fraction,
        seed=args.seed,
        source=source,
        feedback=feedback,
        guards=Guards(
            allow_stale=args.allow_stale,
            allow_few_labels=args.allow_few_labels,
            allow_leaky=args.allow_leaky,
            allow_shift=args.allow_shift,
        ),
        split=args.split,
        progress=progress,
    )
    print(format_result(result))
    print(f"serve it: processor model promote {result.artifact.version} --event-type {args.event_type} --reason ...")
    return 0
