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
        """The queue's figures into the gauges: a few reads per event type, never a scan."""
        now_ms = int(time.time() * 1000) if now_ms is None else now_ms
        stats = self._store.stats(self._sla_ms, now_ms)
        self._metrics.set_queue(stats, now_ms)
        return stats

    def count_breaches(self, now_ms: int | None = None) -> int:
        """Count each item that went over the SLA once (across replicas)."""
        breached = self._store.newly_overdue(self._sla_ms, now_ms)
        for _, event_type in breached:
            self._metrics.sla_breaches.labels(self._metrics.event_type(event_type)).inc()
        return len(breached)

    def run(self, stop: threading.Event, interval_s: float = 5.0) -> None:
        try:
            indexed = self._store.index_existing()
            if indexed:
                log.info("indexed %d items queued before the per-type queue figures existed", indexed)
        except Exception:
            log.exception("indexing the existing queue failed")
        while not stop.is_set():
            try:
                self.refresh()
                self.count_breaches()
            except Exception:  # a Redis blip must not end the monitor; the next round retries
                log.exception("queue metrics refresh failed")
            stop.wait(interval_s)
