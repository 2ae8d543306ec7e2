"""``feature_matrix``: a module's ``compute_batch`` when it works, ``compute`` event by event when it
does not, and the ``features`` quarantine for exactly the events whose own vector fails."""

from __future__ import annotations

import types
from typing import Any

import numpy as np
import numpy.typing as npt

from processor.features.base import HistoryCounter
from processor.messages import Event, RawMessage, Rejected
from processor.pipeline import feature_matrix


def _events(amounts: list[Any]) -> list[Event]:
    return [
        Event(
            raw=RawMessage(topic="t", partition=0, offset=i, key=None, value=b"{}", headers=(), timestamp_ms=None),
            record={"amount": amount},
            event_id=f"e{i}",
            event_type="payment",
            entity_id="x",
            occurred_at=1_717_200_000_000 + i,
            sequence=None,
            schema_version=1,
            encoding="json",
        )
        for i, amount in enumerate(amounts)
    ]


def _compute(record: dict[str, Any], history: dict[str, int]) -> list[float]:
    return [float(record["amount"]), float(history.get("seen_1h", 0))]


def _module(**extra: Any) -> Any:
    module = types.SimpleNamespace(
        HISTORY=(HistoryCounter("seen_1h", "entity_id", 3_600_000),),
        FEATURE_NAMES=("amount", "seen_1h"),
        compute=_compute,
        **extra,
    )
    module.calls = []
    return module


COUNTS = {"seen_1h": np.array([4, 5, 6], dtype=np.int64)}
EXPECTED = np.array([[1.0, 4.0], [2.0, 5.0], [3.0, 6.0]])


def test_per_event_compute_when_the_module_has_no_batch_form() -> None:
    rejected: list[Rejected] = []
    events = _events([1, 2, 3])
    kept, matrix = feature_matrix(_module(), events, COUNTS, rejected)
    assert kept == events and not rejected
    assert np.array_equal(matrix, EXPECTED)


def test_compute_batch_is_called_once_for_the_batch() -> None:
    calls: list[int] = []

    def compute_batch(records: list[dict[str, Any]], history: dict[str, npt.NDArray[np.int64]]) -> Any:
        calls.append(len(records))
        return np.column_stack([[float(r["amount"]) for r in records], history["seen_1h"]]) * 1.0

    rejected: list[Rejected] = []
    kept, matrix = feature_matrix(_module(compute_batch=compute_batch), _events([1, 2, 3]), COUNTS, rejected)
    assert calls == [3] and len(kept) == 3 and not rejected
    assert np.array_equal(matrix, EXPECTED)


def test_a_failing_batch_falls_back_and_quarantines_only_the_bad_event() -> None:
    def compute_batch(records: list[dict[str, Any]], history: dict[str, npt.NDArray[np.int64]]) -> Any:
        return np.asarray([[float(r["amount"]), 0.0] for r in records])  # "oops" raises here

    rejected: list[Rejected] = []
    events = _events([1, "oops", 3])
    kept, matrix = feature_matrix(_module(compute_batch=compute_batch), events, COUNTS, rejected)
    assert kept == [events[0], events[2]]
    assert np.array_equal(matrix, EXPECTED[[0, 2]])
    assert [(r.raw.offset, r.reason.stage, r.reason.code) for r in rejected] == [(1, "features", "feature_error")]
    assert "ValueError" in rejected[0].reason.message


def test_a_batch_of_the_wrong_shape_is_not_trusted() -> None:
    def compute_batch(records: list[dict[str, Any]], history: dict[str, npt.NDArray[np.int64]]) -> Any:
        return np.zeros((len(records), 5))

    rejected: list[Rejected] = []
    kept, matrix = feature_matrix(_module(compute_batch=compute_batch), _events([1, 2, 3]), COUNTS, rejected)
    assert len(kept) == 3 and not rejected
    assert np.array_equal(matrix, EXPECTED)


def test_every_event_failing_leaves_an_empty_matrix_of_the_right_width() -> None:
    rejected: list[Rejected] = []
    kept, matrix = feature_matrix(_module(), _events(["a", "b"]), {"seen_1h": np.zeros(2, dtype=np.int64)}, rejected)
    assert kept == [] and matrix.shape == (0, 2) and len(rejected) == 2
