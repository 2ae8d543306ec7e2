"""kill -9 the processor mid-stream, start it again: the accounting identity stays exact."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from helpers.kafka import count_outputs, produce, wait_for
from processor.audit import audit
from processor.config import Settings
from processor.devtools.simulate import FaultMix, simulate


def test_kill_minus_nine_mid_stream_loses_and_duplicates_nothing(
    topic_factory: Callable[..., Settings],
    processor_factory: Callable[..., Any],
    trained_models: Path,
    tmp_path: Path,
) -> None:
    # small batches: many transactions, so the kills land between and inside them
    settings = topic_factory(models_dir=trained_models, processing={"batch_size": 100})
    messages = simulate(6_000, seed=11, faults=FaultMix.default(), span_s=600.0)
    produce(settings, [(m.key, m.value) for m in messages])
    log = tmp_path / "processor.log"

    for kill_after in (800, 2_500):
        proc = processor_factory(settings, log=log)
        assert wait_for(lambda n=kill_after: count_outputs(settings) >= n, 120), log.read_text()[-3000:]
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        time.sleep(0.2)

    final = processor_factory(settings, "--max-idle", "6", log=log)
    assert final.wait(180) == 0, log.read_text()[-3000:]

    report = audit(settings)
    assert report.inputs == len(messages)
    assert report.identity_holds, report.problems()
    assert report.duplicates_dropped == sum(m.expected == "duplicate" for m in messages)
    assert report.order_holds, report.order_violations[:5]
    assert report.scored > 0 and report.quarantined > 0
