"""Silent-failure detectors: the system runs, nothing throws, and the results are quietly wrong.

Each detector answers one question with a yes or no, and is exported as
``processor_silent_failure{event_type, detector}`` (1 = failing) so one alert covers them all:

- ``score_collapsed``: the model's scores stopped spreading (a constant or near-constant output:
  a broken feature pipeline feeding defaults, a degenerate model);
- ``feature_constant``: a feature that varied in training shows one value (or only nulls) for the
  whole window (an upstream field frozen or dropped);
- ``volume_stopped``: a type that normally flows has had no input at all for a while (a producer
  or an integration died: no error anywhere, just silence);
- ``quarantine_jump``: the share of a type's input that is quarantined jumped well above its own
  recent baseline (an upstream contract change).

The drift window (``processor.monitoring.drift``) supplies the first two; ``TrafficWindow`` here
keeps the per-type input and quarantine counts the last two need.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
import numpy.typing as npt

from processor.config import MonitoringSettings
from processor.monitoring.drift import WindowStats

DETECTORS = ("score_collapsed", "feature_constant", "volume_stopped", "quarantine_jump")


def score_collapsed(stats: WindowStats, settings: MonitoringSettings) -> bool:
    """Enough scores in the window and their standard deviation below the collapse threshold."""
    return stats.scored >= settings.min_window_events and stats.score_std < settings.collapsed_score_std


def feature_constant(stats: WindowStats) -> bool:
    return bool(stats.enough and stats.constant.any())


class TrafficWindow:
    """Inputs and quarantines per event type in time slots covering the baseline and the quiet window."""

    def __init__(self, event_types: Iterable[str], settings: MonitoringSettings, now: float) -> None:
        self.event_types = tuple(event_types)
        self._index = {t: i for i, t in enumerate(self.event_types)}
        self._settings = settings
        # slots fine enough for the shorter windows, enough of them to cover the longest span
        self._slot_s = min(settings.volume_quiet_s, settings.quarantine_recent_s) / 5
        span = settings.volume_baseline_s + max(settings.volume_quiet_s, settings.quarantine_recent_s)
        self._slots = math.ceil(span / self._slot_s) + 1
        self._stamp = np.full(self._slots, -(10**12), dtype=np.int64)
        self._inputs = np.zeros((self._slots, len(self.event_types)), dtype=np.int64)
        self._quarantined = np.zeros((self._slots, len(self.event_types)), dtype=np.int64)
        self._started = now

    def _slot(self, now: float) -> int:
        tick = int(now // self._slot_s)
        i = tick % self._slots
        if self._stamp[i] != tick:
            self._stamp[i] = tick
            self._inputs[i] = 0
            self._quarantined[i] = 0
        return i

    def observe(self, event_type: str, inputs: int, quarantined: int, now: float) -> None:
        j = self._index.get(event_type)
        if j is None:
            return
        i = self._slot(now)
        self._inputs[i, j] += inputs
        self._quarantined[i, j] += quarantined

    def _sums(self, now: float, newest_s: float, oldest_s: float) -> tuple[npt.NDArray[np.int64], ...]:
        """Per type, inputs and quarantines in slots whose start lies in (now - oldest_s, now - newest_s]."""
        tick = int(now // self._slot_s)
        age = (tick - self._stamp) * self._slot_s
        mask = (age >= newest_s) & (age < oldest_s)
        return self._inputs[mask].sum(axis=0), self._quarantined[mask].sum(axis=0)

    def volume_stopped(self, now: float) -> npt.NDArray[np.bool_]:
        """Per type: nothing during the quiet window, after a baseline at the minimum rate or more."""
        s = self._settings
        quiet, _ = self._sums(now, 0.0, s.volume_quiet_s)
        before, _ = self._sums(now, s.volume_quiet_s, s.volume_quiet_s + s.volume_baseline_s)
        per_minute = before / (s.volume_baseline_s / 60.0)
        observed_long_enough = now - self._started >= s.volume_quiet_s
        result: npt.NDArray[np.bool_] = (quiet == 0) & (per_minute >= s.volume_min_per_minute) & observed_long_enough
        return result

    def quarantine_ratios(self, now: float) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """Per type, the quarantined share of the recent window and of the baseline before it (NaN: no input)."""
        s = self._settings
        recent_in, recent_q = self._sums(now, 0.0, s.quarantine_recent_s)
        base_in, base_q = self._sums(now, s.quarantine_recent_s, s.quarantine_recent_s + s.volume_baseline_s)
        with np.errstate(divide="ignore", invalid="ignore"):
            return recent_q / recent_in, base_q / base_in

    def quarantine_jump(self, now: float) -> npt.NDArray[np.bool_]:
        """Per type: the recent quarantine share is a jump over the baseline (both with enough input)."""
        s = self._settings
        recent_in, _ = self._sums(now, 0.0, s.quarantine_recent_s)
        base_in, _ = self._sums(now, s.quarantine_recent_s, s.quarantine_recent_s + s.volume_baseline_s)
        recent, base = self.quarantine_ratios(now)
        enough = (recent_in >= s.quarantine_min_events) & (base_in >= s.quarantine_min_events)
        with np.errstate(invalid="ignore"):
            jumped = recent >= np.maximum(base * s.quarantine_jump_factor, base + s.quarantine_jump_min)
        result: npt.NDArray[np.bool_] = enough & jumped
        return result
