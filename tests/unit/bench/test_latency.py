"""The latency harness's accounting: every input answered or counted, latency from the schedule.

The harness is broken on purpose here (an answer dropped, an input answered twice, a duplicate
answered, an input never delivered) and must say so, or ``make bench`` would print percentiles
over whatever happened to come back.
"""

from __future__ import annotations

from typing import Any

from bench.latency import Position, Sent, account, failures
from bench.run import verdicts


def _run(
    n: int = 100, rate_per_ms: float = 1.0, delay_ms: float = 20.0
) -> tuple[dict[Position, Sent], dict[Position, float]]:
    """n inputs due one per ``1 / rate_per_ms`` ms on partition 0, each answered ``delay_ms`` after it was due;
    every tenth a generated duplicate (no answer expected, none given)."""
    sent: dict[Position, Sent] = {}
    seen: dict[Position, float] = {}
    for i in range(n):
        due = 1_000_000.0 + i / rate_per_ms
        duplicate = i % 10 == 9
        sent[(0, i)] = Sent(due, expects_answer=not duplicate)
        if not duplicate:
            seen[(0, i)] = due + delay_ms
    return sent, seen


def _account(
    sent: dict[Position, Sent],
    seen: dict[Position, float],
    outputs: dict[Position, int] | None = None,
    attempted: int | None = None,
) -> dict[str, Any]:
    return account(
        sent,
        seen,
        outputs if outputs is not None else dict.fromkeys(seen, 1),
        attempted=len(sent) if attempted is None else attempted,
        warmup_s=0.0,
    )


def test_a_complete_run_passes_and_measures_from_the_schedule() -> None:
    sent, seen = _run()
    result = _account(sent, seen)
    assert failures(result) == []
    assert result["unanswered"] == 0 and result["answered"] == result["expected_answers"] == 90
    assert result["p50_ms"] == result["p99_ms"] == 20.0


def test_a_dropped_answer_fails_the_run() -> None:
    sent, seen = _run()
    del seen[(0, 42)]  # the harness loses one output
    result = _account(sent, seen)
    assert result["unanswered"] == 1
    assert any("1 of 90 inputs got no output" in f for f in failures(result))


def test_an_answer_lost_during_the_warm_up_still_counts() -> None:
    sent, seen = _run()
    del seen[(0, 0)]
    result = account(sent, seen, dict.fromkeys(seen, 1), attempted=len(sent), warmup_s=10.0)
    assert result["unanswered"] == 1 and failures(result)


def test_an_input_answered_twice_fails_the_run() -> None:
    sent, seen = _run()
    outputs = dict.fromkeys(seen, 1)
    outputs[(0, 3)] = 2
    result = _account(sent, seen, outputs)
    assert result["duplicate_outputs"] == 1 and failures(result)


def test_a_generated_duplicate_that_is_answered_fails_the_run() -> None:
    sent, seen = _run()
    seen[(0, 9)] = sent[(0, 9)].due_ms + 5
    result = _account(sent, seen)
    assert result["duplicates_answered"] == 1 and failures(result)


def test_an_input_that_never_reached_the_broker_fails_the_run() -> None:
    sent, seen = _run()
    result = _account(sent, seen, attempted=len(sent) + 1)
    assert result["undelivered"] == 1 and failures(result)


def test_latency_counts_from_when_the_event_was_due_not_when_it_was_sent() -> None:
    """A producer stalled for 500 ms sends the next events late; each of them was answered 20 ms after
    its (late) send. From the send time every latency would be 20 ms; from the schedule the stall shows."""
    sent, seen = _run(n=1000)
    for i in range(500, 1000):  # due at 500..999 ms, sent (and answered) 500 ms late
        if (0, i) in seen:
            seen[(0, i)] += 500
    result = _account(sent, seen)
    assert float(result["p50_ms"]) >= 500 and float(result["p99_ms"]) >= 500
    assert not failures(result)  # late is slow, not wrong


def test_targets_are_judged_against_their_bounds() -> None:
    measured = {
        "processor/limit": 0.29,
        "processor/naive": 10.0,
        "p99_ms at half load": 250.0,
        "unanswered": 1,
        "processor run peak RSS MB": 100.0,
        "Redis bytes per event": 151.0,
    }
    met = {name: v["met"] for name, v in verdicts(measured).items()}
    assert met == {
        "processor/limit": False,
        "processor/naive": True,
        "p99_ms at half load": True,
        "unanswered": False,
        "processor run peak RSS MB": True,
        "Redis bytes per event": False,
    }
