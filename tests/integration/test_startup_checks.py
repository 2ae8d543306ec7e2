"""`processor run` refuses at once, and says why, what would otherwise make it wait in silence."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from helpers.kafka import count_outputs, produce
from processor.config import Settings
from processor.kafka.admin import create_topics
from processor.project_init import write_project


def test_a_missing_raw_topic_is_reported_at_once(
    settings_factory: Callable[..., Settings],
    processor_factory: Callable[..., subprocess.Popen[bytes]],
    tmp_path: Path,
) -> None:
    settings = settings_factory()  # no topics created
    log = tmp_path / "processor.log"
    started = time.monotonic()
    proc = processor_factory(settings, "--max-idle", "1", log=log)
    assert proc.wait(45) == 2
    assert time.monotonic() - started < 30  # not the minute an unassigned consumer waits
    text = log.read_text()
    assert "topic_missing" in text and repr(settings.topics.raw) in text
    assert "processor topics create" in text
    # the start-up line shows the topic names it was given (the scrubber no longer hides topics.raw)
    assert f'"raw": "{settings.topics.raw}"' in text


def test_missing_output_topics_are_named_too(
    settings_factory: Callable[..., Settings],
    processor_factory: Callable[..., subprocess.Popen[bytes]],
    tmp_path: Path,
) -> None:
    settings = settings_factory()
    only_raw = settings.model_copy(
        update={"topics": settings.topics.model_copy(update={"scored": f"{settings.topics.raw}.absent"})}
    )
    create_topics(settings)
    log = tmp_path / "processor.log"
    proc = processor_factory(only_raw, "--max-idle", "1", log=log)
    assert proc.wait(45) == 2
    text = log.read_text()
    assert f"scored '{settings.topics.raw}.absent'" in text
    assert repr(settings.topics.raw) not in text.split("topic_missing", 1)[1].split("do not exist")[0]


def test_a_feature_module_that_breaks_the_contract_stops_start_up(
    topic_factory: Callable[..., Settings],
    processor_factory: Callable[..., subprocess.Popen[bytes]],
    tmp_path: Path,
) -> None:
    project = tmp_path / "project"
    write_project(project, "refund_issued")
    module = project / "features" / "refund_issued.py"
    # a history counter keyed by a field the schema does not have
    module.write_text(module.read_text().replace('"entity_id", _HOUR_MS', '"card_hash", _HOUR_MS'))
    settings = topic_factory(project_dir=project)
    produce(settings, [(b"k", b'{"event_type": "refund_issued"}')])
    log = tmp_path / "processor.log"
    proc = processor_factory(settings, "--max-idle", "1", log=log)
    assert proc.wait(60) == 2
    text = log.read_text()
    assert "invalid_feature_module" in text and str(module) in text
    assert "keyed by field 'card_hash', which the event's schema lacks" in text
    assert count_outputs(settings) == 0  # stopped before consuming anything
