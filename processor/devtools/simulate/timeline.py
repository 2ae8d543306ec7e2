"""Event times for the synthetic types: a plausible arrival process squeezed into a fixed span.

Real traffic is neither evenly spaced nor memoryless: it follows the day (more sign-ups in the
afternoon UTC, fewer at night) and comes in short bursts (a campaign mail lands, a batch job
uploads). Gaps here are exponential, scaled by a diurnal intensity, with occasional bursts of
near-simultaneous events. The raw gaps are then rescaled so the last event lands exactly at
``start_ms + span_ms``: a stream of N events covers the span asked for, and with the default
start (now minus the span) no event time lies in the future.
"""

from __future__ import annotations

import math
import random

_HOUR_MS = 3_600_000


def _intensity(t_ms: float) -> float:
    """Relative arrival rate by hour of day: peak around 15:00 UTC, trough around 03:00 UTC."""
    hour = (t_ms / _HOUR_MS) % 24.0
    return 1.0 + 0.6 * math.cos(2.0 * math.pi * (hour - 15.0) / 24.0)


def event_times(rng: random.Random, count: int, *, start_ms: int, span_ms: int) -> list[int]:
    """``count`` non-decreasing epoch-ms times in ``(start_ms, start_ms + span_ms]``."""
    if count <= 0:
        return []
    span_ms = max(0, span_ms)
    gaps: list[float] = []
    burst_left = 0
    for i in range(count):
        # The intensity is read at where the event will roughly land after rescaling.
        approx = start_ms + span_ms * (i / count)
        gap = rng.expovariate(1.0) / _intensity(approx)
        if burst_left > 0:
            burst_left -= 1
            gap *= 0.05
        elif rng.random() < 0.01:
            burst_left = rng.randint(5, 40)
        gaps.append(gap)
    total = sum(gaps)
    times: list[int] = []
    elapsed = 0.0
    for gap in gaps:
        elapsed += gap
        times.append(start_ms + round(span_ms * elapsed / total))
    times[-1] = start_ms + span_ms
    return times
