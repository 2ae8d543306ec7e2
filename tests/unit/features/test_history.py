"""InMemoryHistory: the serving semantics of base.py, ``[t - window, t)`` among events added so far."""

from __future__ import annotations

import random
from collections.abc import Mapping
from types import SimpleNamespace
from typing import Any, cast

from processor.features import FeatureModule, HistoryCounter
from processor.features.history import InMemoryHistory

WINDOW = 1_000
MODULE = cast(
    FeatureModule,
    SimpleNamespace(
        HISTORY=(HistoryCounter("same_ip", "ip", WINDOW), HistoryCounter("same_country", "country", 10 * WINDOW)),
        FEATURE_NAMES=("same_ip", "same_country"),
        compute=lambda record, history: [],
    ),
)


def _history() -> InMemoryHistory:
    return InMemoryHistory({"t": MODULE})


def _rec(ip: str | None = "1.1.1.1", country: str | None = "DE") -> dict[str, Any]:
    return {"ip": ip, "country": country}


def test_counts_only_strictly_earlier_events() -> None:
    h = _history()
    h.add("t", "a", _rec(), 5_000)
    assert h.counts("t", _rec(), 5_000)["same_ip"] == 0  # same instant: not earlier
    assert h.counts("t", _rec(), 5_001)["same_ip"] == 1
    h.add("t", "b", _rec(), 5_000)  # a second event at the same instant
    assert h.counts("t", _rec(), 5_000)["same_ip"] == 0
    assert h.counts("t", _rec(), 5_001)["same_ip"] == 2
    # An event added "from the future" (out of order) is never counted for an earlier time.
    h.add("t", "c", _rec(), 9_000)
    assert h.counts("t", _rec(), 5_001)["same_ip"] == 2


def test_window_bounds_inclusive_left_exclusive_right() -> None:
    h = _history()
    h.add("t", "a", _rec(), 10_000)
    assert h.counts("t", _rec(), 10_000 + WINDOW)["same_ip"] == 1  # t - window == event time: counted
    assert h.counts("t", _rec(), 10_000 + WINDOW + 1)["same_ip"] == 0  # fell out of the window
    assert h.counts("t", _rec(), 10_000 + WINDOW + 1)["same_country"] == 1  # the longer window still holds it


def test_keys_are_separate_and_empty_keys_count_zero() -> None:
    h = _history()
    h.add("t", "a", _rec(ip="1.1.1.1"), 0)
    h.add("t", "b", _rec(ip="2.2.2.2"), 1)
    h.add("t", "c", _rec(ip=None, country=""), 2)  # no key: adds nothing under either counter
    assert h.counts("t", _rec(ip="1.1.1.1"), 10) == {"same_ip": 1, "same_country": 2}
    assert h.counts("t", _rec(ip=None, country=None), 10) == {"same_ip": 0, "same_country": 0}
    assert h.counts("other", _rec(), 10) == {}
    assert not h.add("other", "z", _rec(), 10)


def test_replaying_an_event_id_adds_nothing() -> None:
    h = _history()
    assert h.add("t", "a", _rec(), 100)
    assert not h.add("t", "a", _rec(), 100)
    assert not h.add("t", "a", _rec(ip="9.9.9.9"), 200)  # even with different contents
    assert h.counts("t", _rec(), 150) == {"same_ip": 1, "same_country": 1}
    assert h.counts("t", _rec(ip="9.9.9.9"), 300)["same_ip"] == 0
    assert len(h) == 1


def test_matches_brute_force_in_any_insertion_order() -> None:
    rng = random.Random(3)
    events = [
        (f"e{i}", _rec(ip=rng.choice("ab"), country=rng.choice("xy")), rng.randint(0, 20_000)) for i in range(400)
    ]
    h = _history()
    added: list[tuple[Mapping[str, Any], int]] = []
    for event_id, record, at in events:  # random (not time) order
        h.add("t", event_id, record, at)
        added.append((record, at))
        probe_record, probe_at = _rec(ip=rng.choice("ab"), country=rng.choice("xy")), rng.randint(0, 22_000)
        expected_ip = sum(1 for r, t in added if r["ip"] == probe_record["ip"] and probe_at - WINDOW <= t < probe_at)
        expected_country = sum(
            1 for r, t in added if r["country"] == probe_record["country"] and probe_at - 10 * WINDOW <= t < probe_at
        )
        assert h.counts("t", probe_record, probe_at) == {"same_ip": expected_ip, "same_country": expected_country}
