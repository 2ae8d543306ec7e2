"""Queue gauges and SLA breaches, refreshed from the shared store (every replica sees the same queue)."""

from __future__ import annotations

import logging
import threading
import time

from processor.config import ReviewSettings
from processor.review.metrics import ReviewMetrics
from processor.review.store import QueueStats, ReviewStore

log = logging.getLogger("processor.review.monitor")


class QueueMonitor:
    def __init__(self, store: ReviewStore, metrics: ReviewMetrics, settings: ReviewSettings) -> None:
        self._store = store
        self._metrics = metrics
        self._sla_ms = settings.sla_seconds * 1000

    def refresh(self, now_ms: int | None = None) -> QueueStats:
        now_ms = int(time.time() * 1000) if now_ms is None else now_ms
        stats = self._store.stats(self._sla_ms, now_ms)
        self._metrics.set_queue(stats, now_ms)
        types = dict(stats.overdue_items)
        for event_id in self._store.mark_sla_breached(list(types)):
            self._metrics.sla_breaches.labels(self._metrics.event_type(types[event_id])).inc()
        return stats

    def run(self, stop: threading.Event, interval_s: float = 5.0) -> None:
        while not stop.is_set():
            try:
                self.refresh()
            except Exception:  # a Redis blip must not end the monitor; the next round retries
                log.exception("queue metrics refresh failed")
            stop.wait(interval_s)
