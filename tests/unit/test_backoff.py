"""backoff: the one retry loop: doubling waits up to a limit, health marks, stopping, the log line."""

from __future__ import annotations

import logging
import time

import pytest

from processor.backoff import FIRST_WAIT_S, Backoff
from processor.monitoring.http import Health


class _Flaky:
    """Fails with ``error`` ``failures`` times, then answers ``result``; records the health seen at each call."""

    def __init__(self, failures: int, error: Exception, health: Health, result: str = "done") -> None:
        self.failures = failures
        self.error = error
        self.health = health
        self.result = result
        self.calls = 0
        self.ready_at_call: list[bool] = []

    def __call__(self) -> str:
        self.calls += 1
        self.ready_at_call.append(self.health.ready()[0])
        if self.calls <= self.failures:
            raise self.error
        return self.result


class _Clock:
    """Stands in for ``time.sleep``: records the waits, and can raise the stop flag after some."""

    def __init__(self, stop_after: int | None = None) -> None:
        self.waits: list[float] = []
        self.stop_after = stop_after
        self.stopping = False

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        if self.stop_after is not None and len(self.waits) >= self.stop_after:
            self.stopping = True


def _backoff(health: Health, clock: _Clock) -> Backoff:
    return Backoff(health, lambda: clock.stopping, sleep=clock.sleep)


def test_waits_double_from_half_a_second_up_to_the_limit_and_the_result_comes_back() -> None:
    health, clock = Health(), _Clock()
    flaky = _Flaky(6, ConnectionError("refused"), health)
    result = _backoff(health, clock).retry(
        "loading partition 3", flaky, dependency="redis", transient=(ConnectionError,), max_wait_s=5.0
    )
    assert result == "done" and flaky.calls == 7
    assert clock.waits == [FIRST_WAIT_S, 1.0, 2.0, 4.0, 5.0, 5.0]


def test_the_dependency_is_not_ready_while_failing_and_ready_once_it_answers() -> None:
    health, clock = Health(), _Clock()
    health.set_not_ready("kafka", "starting")  # another dependency's mark is left alone
    flaky = _Flaky(2, ConnectionError("refused"), health)
    _backoff(health, clock).retry("probe", flaky, dependency="redis", transient=(ConnectionError,))
    assert health.not_ready_components() == {"kafka"}
    health.set_ready("kafka")
    flaky2 = _Flaky(1, ConnectionError("refused"), health)
    _backoff(health, clock).retry("probe", flaky2, dependency="redis", transient=(ConnectionError,))
    assert flaky2.ready_at_call == [True, False]  # not ready between the failure and the retry
    assert health.ready() == (True, "ok")


def test_the_wait_keeps_the_heartbeat() -> None:
    """Waiting for a dependency is the loop doing its job: liveness must not fail meanwhile."""
    health, clock = Health(), _Clock()
    alive_while_waiting: list[bool] = []

    def stalled() -> None:
        health._beat = time.monotonic() - 10 * health.stall_after_s  # the loop has not turned for long
        raise ConnectionError("down")

    def sleep(seconds: float) -> None:
        alive_while_waiting.append(health.live()[0])
        clock.sleep(seconds)
        clock.stopping = len(clock.waits) == 3

    with pytest.raises(ConnectionError):
        Backoff(health, lambda: clock.stopping, sleep=sleep).retry(
            "probe", stalled, dependency="redis", transient=(ConnectionError,)
        )
    assert alive_while_waiting == [True, True, True]


def test_an_error_that_is_not_transient_propagates_at_once() -> None:
    health, clock = Health(), _Clock()
    flaky = _Flaky(5, ValueError("a bug"), health)
    with pytest.raises(ValueError, match="a bug"):
        _backoff(health, clock).retry("probe", flaky, dependency="redis", transient=(ConnectionError,))
    assert flaky.calls == 1 and clock.waits == []


def test_a_stopping_process_does_not_wait_retry_raises_the_last_error() -> None:
    health, clock = Health(), _Clock(stop_after=2)
    flaky = _Flaky(100, ConnectionError("still down"), health)
    with pytest.raises(ConnectionError, match="still down"):
        _backoff(health, clock).retry("init_transactions", flaky, dependency="kafka", transient=(ConnectionError,))
    assert flaky.calls == 3 and len(clock.waits) == 2
    assert health.not_ready_components() == {"kafka"}


def test_wait_out_starts_with_a_wait_and_says_whether_it_resumed() -> None:
    health, clock = Health(), _Clock()
    flaky = _Flaky(1, ConnectionError("down"), health)
    resumed = _backoff(health, clock).wait_out(
        "resuming", flaky, failed=ConnectionError("first"), dependency="redis", transient=(ConnectionError,)
    )
    assert resumed is True and flaky.calls == 2 and clock.waits == [FIRST_WAIT_S, 1.0]
    assert health.ready() == (True, "ok")

    stopping = _Clock(stop_after=1)
    never = _Flaky(100, ConnectionError("down"), health)
    resumed = _backoff(health, stopping).wait_out(
        "resuming", never, failed=ConnectionError("first"), dependency="redis", transient=(ConnectionError,)
    )
    assert resumed is False and never.calls == 1
    assert health.not_ready_components() == {"redis"}


def test_wait_out_of_a_stopping_process_returns_even_when_the_first_error_is_of_another_kind() -> None:
    """A batch may fail with an error the probe would not raise (a Redis script error): a
    process that is stopping still gives up instead of raising it."""
    health, clock = Health(), _Clock()
    clock.stopping = True
    probe = _Flaky(0, ConnectionError("unused"), health)
    resumed = _backoff(health, clock).wait_out(
        "resuming", probe, failed=RuntimeError("script error"), dependency="redis", transient=(ConnectionError,)
    )
    assert resumed is False and probe.calls == 0


def test_each_wait_is_logged_with_the_dependency_the_operation_and_the_wait(caplog: pytest.LogCaptureFixture) -> None:
    health, clock = Health(), _Clock()
    with caplog.at_level(logging.WARNING, logger="processor.backoff"):
        _backoff(health, clock).retry(
            "registering the output schemas",
            _Flaky(1, ConnectionError("refused"), health),
            dependency="schema_registry",
            transient=(ConnectionError,),
        )
    (record,) = caplog.records
    # the runbook (docs/runbooks/ProcessorSchemaRegistryDown.md) quotes this wording
    assert "schema registry unavailable (refused)" in record.getMessage()
    assert record.dependency == "schema_registry"  # type: ignore[attr-defined]
    assert record.operation == "registering the output schemas"  # type: ignore[attr-defined]
    assert record.error_type == "ConnectionError"  # type: ignore[attr-defined]
    assert record.retry_in_s == FIRST_WAIT_S  # type: ignore[attr-defined]
