"""The sandbox runs a step in a limited child: results and the gateway's rejections come back,
and running out of CPU, memory or time is ``TooComplex``, not a hung or dead gateway."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from processor.ingest import sandbox, work
from processor.ingest.rejections import Rejection
from processor.ingest.scopes import Scope

_LIMITS = sandbox.Limits(cpu_s=1.0, memory_bytes=512 * 1024 * 1024, wall_s=10.0)
_SCOPE = Scope("c", frozenset({"user_signed_up"}), frozenset({"c"}))
_EVENTS = work.EventLimits(max_items=10, max_event_bytes=10_000, max_depth=8)


def _run(fn: Callable[..., object], *args: object, limits: sandbox.Limits = _LIMITS) -> object:
    return sandbox.run_blocking(fn, *args, limits=limits)


def test_results_and_rejections_come_back_from_the_child() -> None:
    body = b'{"event_id": "1", "event_type": "user_signed_up", "entity_id": "u", "occurred_at": 1}'
    batch = _run(work.check_events, body, _EVENTS, frozenset({"user_signed_up"}), _SCOPE, frozenset({"c"}))
    assert isinstance(batch, work.CheckedBatch)
    assert [event.event_id for _, event in batch.checked] == ["c/1"]
    with pytest.raises(Rejection) as err:
        _run(work.check_events, b"[" * 20 + b"]" * 20, _EVENTS, frozenset(), _SCOPE, frozenset())
    assert (err.value.status, err.value.code) == (400, "too_deeply_nested")


def test_cpu_memory_and_time_limits_stop_the_child() -> None:
    started = time.monotonic()
    with pytest.raises(sandbox.TooComplex):
        _run(_spin)
    assert time.monotonic() - started < 5
    with pytest.raises(sandbox.TooComplex) as err:
        _run(_hoard)
    assert "memory" in err.value.what
    with pytest.raises(sandbox.TooComplex) as err:
        _run(time.sleep, 30, limits=sandbox.Limits(cpu_s=1.0, memory_bytes=512 * 1024 * 1024, wall_s=0.5))
    assert "longer than" in err.value.what


def _spin() -> None:
    while True:
        pass


def _hoard() -> None:
    _ = bytearray(2 * 1024 * 1024 * 1024)
