"""The chaos and scale harnesses fail when their stream is not the configured one (no broker needed).

A producer is broken on purpose: its broker does not exist (every delivery report fails), its
thread raises midway, or it delivers fewer inputs than configured. Each must fail the run.
"""

from __future__ import annotations

import socket
import time

import pytest

from chaos.harness import ChaosResult
from helpers.streams import StreamFailed, StreamProducer
from processor.audit import AuditReport
from scale.harness import ScenarioResult


def _dead_broker() -> str:
    """An address nothing listens on: a port the OS just handed out and took back."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"127.0.0.1:{port}"


def _config() -> dict[str, object]:
    # deliveries give up after a second, so a dead broker fails fast
    return {"bootstrap.servers": _dead_broker(), "message.timeout.ms": 1000, "log_level": 0}


def _messages(n: int) -> list[tuple[bytes | None, bytes | None]]:
    return [(f"k{i}".encode(), f"v{i}".encode()) for i in range(n)]


def test_failed_delivery_reports_fail_the_stream() -> None:
    stream = StreamProducer(_config(), "t", _messages(20), chunk=5, flush_timeout_s=10).start()
    with pytest.raises(StreamFailed, match="of 20 messages not delivered"):
        stream.wait(30)
    assert stream.delivered == 0
    assert len(stream.failures) == 20


def test_a_producer_thread_that_raises_midway_fails_the_stream() -> None:
    def pace(handed: int) -> None:
        if handed >= 10:
            raise RuntimeError("producer broken on purpose")

    stream = StreamProducer(_config(), "t", _messages(40), chunk=5, pace=pace, flush_timeout_s=10).start()
    with pytest.raises(StreamFailed, match=r"died after handing 10 of 40 messages: RuntimeError: producer broken"):
        stream.wait(30)


def test_a_bad_message_midway_kills_the_thread_and_fails_the_stream() -> None:
    messages = _messages(10)
    messages[6] = (b"k", 123)  # type: ignore[assignment]  # not bytes: produce() raises TypeError
    stream = StreamProducer(_config(), "t", messages, chunk=4, flush_timeout_s=10).start()
    with pytest.raises(StreamFailed, match="died after handing 6 of 10"):
        stream.wait(30)


def test_check_raises_while_the_stream_is_still_running() -> None:
    """The harness calls ``check`` between faults: a dead producer stops the run at once."""

    def pace(handed: int) -> None:
        if handed >= 5:
            raise RuntimeError("broken")

    stream = StreamProducer(_config(), "t", _messages(10), chunk=5, pace=pace, flush_timeout_s=10).start()
    deadline = time.monotonic() + 10
    while not stream.done and time.monotonic() < deadline:
        time.sleep(0.05)
    with pytest.raises(StreamFailed, match="died"):
        stream.check()


def _report(inputs: int, **fields: object) -> AuditReport:
    report = AuditReport(inputs=inputs, scored=inputs)
    for name, value in fields.items():
        setattr(report, name, value)
    return report


def test_chaos_result_fails_when_fewer_inputs_were_produced_than_configured() -> None:
    whole = ChaosResult(events=100, produced=100, report=_report(100))
    assert whole.ok, whole.problems()
    short = ChaosResult(events=100, produced=90, report=_report(90))  # lost=0 and the identity holds...
    assert short.lost == 0 and short.report is not None and short.report.identity_holds
    assert not short.ok  # ...yet the run fails
    assert "90 inputs delivered, 100 configured" in short.problems()


def test_scale_result_fails_when_fewer_inputs_were_produced_than_configured() -> None:
    assert ScenarioResult("broker", events=100, produced=100, report=_report(100)).ok
    short = ScenarioResult("broker", events=100, produced=99, report=_report(99))
    assert not short.ok
    assert "99 inputs delivered, 100 configured" in short.problems()


def test_answers_given_twice_fail_a_scenario_whose_guarantee_forbids_them() -> None:
    twice = _report(100, scored=101, answered_twice=[(0, 5)])
    for name in ("broker", "rebalance"):
        result = ScenarioResult(name, events=100, produced=100, report=twice)
        assert result.duplicated == 1 and not result.duplicates_allowed and not result.ok


def test_the_redis_scenario_allows_answers_given_twice_only_when_the_metric_counted_them() -> None:
    twice = _report(100, scored=101, answered_twice=[(0, 5)])
    counted = ScenarioResult("redis", events=100, produced=100, report=twice, counted_duplicates=1)
    assert counted.duplicated == 1 and counted.duplicates_allowed and counted.ok
    assert any("1 duplicates (allowed" in p for p in counted.problems())  # printed, not hidden
    uncounted = ScenarioResult("redis", events=100, produced=100, report=twice, counted_duplicates=0)
    assert not uncounted.duplicates_allowed and not uncounted.ok
