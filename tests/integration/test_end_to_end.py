"""The whole loop on the real broker and Redis: a hostile mix in, the accounting identity out."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from helpers.hostile import hostile_mix
from helpers.kafka import produce, wait_for
from processor.audit import audit, read_topic
from processor.config import Settings
from processor.serializers.outputs import decode_json_output
from processor.serializers.schemas import SchemaStore


def _outputs(settings: Settings, topic: str) -> list[dict[str, Any]]:
    out = []
    for m in read_topic(settings, topic, idle_s=1.0):
        headers = dict(m.headers() or ())
        record = decode_json_output(m.value())
        record["_source"] = (int(headers["source-partition"]), int(headers["source-offset"]))
        out.append(record)
    return out


def test_hostile_mix_keeps_the_accounting_identity(
    topic_factory: Callable[..., Settings],
    processor_factory: Callable[..., Any],
    trained_models: Path,
    tmp_path: Path,
) -> None:
    settings = topic_factory(models_dir=trained_models)
    schemas = SchemaStore(settings.schemas_dir)
    cases = hostile_mix(int(time.time() * 1000), uuid.uuid4().hex[:6], schemas)
    late = [c for c in cases if c.expect == "late_decided" or c.stage == "late"]
    first = [c for c in cases if c not in late]

    proc = processor_factory(settings, "--max-idle", "6", log=tmp_path / "processor.log")
    positions = produce(settings, [(c.key, c.value) for c in first])
    # the late events must arrive after the stream has moved on and released its buffers
    assert wait_for(lambda: len(read_topic(settings, settings.topics.scored, idle_s=0.5)) > 0, 60)
    time.sleep(1.5)
    positions += produce(settings, [(c.key, c.value) for c in late])
    ordered = first + late
    assert proc.wait(120) == 0, (tmp_path / "processor.log").read_text()[-3000:]

    report = audit(settings)
    assert report.identity_holds, report.problems()
    assert report.inputs == len(cases)
    assert report.duplicates_dropped == sum(c.expect == "duplicate" for c in cases)
    assert report.order_holds, report.order_violations

    expected = {pos: c for pos, c in zip(positions, ordered, strict=True)}
    quarantined = {r["_source"]: r for r in _outputs(settings, settings.topics.quarantine)}
    decided = {
        r["_source"]: r for topic in (settings.topics.scored, settings.topics.review) for r in _outputs(settings, topic)
    }
    mismatches = []
    for pos, case in expected.items():
        if case.expect == "quarantine":
            got = quarantined.get(pos)
            if got is None or (got["stage"], got["error_code"]) != (case.stage, case.code):
                mismatches.append(
                    (case.stage, case.code, got and (got["stage"], got["error_code"], got["error_message"]))
                )
            else:
                assert got["value"] == case.value and got["key"] == case.key  # the original bytes, untouched
        elif case.expect in ("decided", "late_decided"):
            got = decided.get(pos)
            if got is None:
                mismatches.append(("decided", case.event_id, quarantined.get(pos)))
            else:
                assert got["event_id"] == case.event_id
                assert got["late"] is (case.expect == "late_decided")
        else:
            assert pos not in decided and pos not in quarantined
    assert not mismatches, mismatches
    by_code = Counter((r["stage"], r["error_code"]) for r in quarantined.values())
    assert by_code[("decode", "oversized")] == 1
    assert by_code[("late", "behind_watermark")] == 1
