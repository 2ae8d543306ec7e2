"""Wait a dependency out: retry an operation with exponential backoff until it succeeds.

The one retry loop of the processor. Kafka (creating the producer, rewinding), Redis (loading a
partition, resuming after an outage) and the schema registry (registering the output schemas,
resuming after an outage) are all waited out the same way: the dependency is marked not ready
with the error, the loop's heartbeat is kept (waiting for a dependency is the loop doing its job,
not a stall), the wait doubles from 0.5 s up to a limit, and the dependency is marked ready again
once the operation succeeds. A process that is stopping does not wait: the last error is raised.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from processor.monitoring.http import Health

log = logging.getLogger(__name__)

T = TypeVar("T")

FIRST_WAIT_S = 0.5
#: The longest wait between two attempts, unless the caller has a setting of its own.
MAX_WAIT_S = 10.0

#: What each dependency is called in the log (the runbooks quote these lines).
LABELS = {"kafka": "Kafka", "redis": "Redis", "schema_registry": "schema registry"}


class Backoff:
    def __init__(self, health: Health, stopping: Callable[[], bool], *, sleep: Callable[[float], None] = time.sleep):
        self._health = health
        self._stopping = stopping
        self._sleep = sleep

    def retry(
        self,
        operation: str,
        fn: Callable[[], T],
        *,
        dependency: str,
        transient: tuple[type[Exception], ...],
        max_wait_s: float = MAX_WAIT_S,
    ) -> T:
        """``fn()``'s result, calling it again while it raises one of ``transient``. Other errors
        propagate at once; a transient one propagates when the process is stopping."""
        try:
            return self._loop(operation, fn, dependency, transient, max_wait_s, None)
        except _Stopped as stopped:
            raise stopped.error from None

    def wait_out(
        self,
        operation: str,
        fn: Callable[[], object],
        *,
        failed: Exception,
        dependency: str,
        transient: tuple[type[Exception], ...],
        max_wait_s: float = MAX_WAIT_S,
    ) -> bool:
        """After ``failed`` (a batch met it mid-way): wait, then call ``fn`` until it succeeds.

        True once it did; False when the process started stopping meanwhile (nothing to resume
        then). Errors not in ``transient`` propagate.
        """
        try:
            self._loop(operation, fn, dependency, transient, max_wait_s, failed)
        except _Stopped:
            return False
        return True

    def _loop(
        self,
        operation: str,
        fn: Callable[[], T],
        dependency: str,
        transient: tuple[type[Exception], ...],
        max_wait_s: float,
        failed: Exception | None,
    ) -> T:
        wait = FIRST_WAIT_S
        error = failed
        while True:
            if error is None:
                try:
                    result = fn()
                except transient as exc:
                    error = exc
                else:
                    self._health.set_ready(dependency)
                    return result
            if self._stopping():
                raise _Stopped(error)
            self._health.set_not_ready(dependency, f"{operation}: unreachable: {error}")
            log.warning(
                "%s: %s unavailable (%s); retrying in %.1f s",
                operation,
                LABELS.get(dependency, dependency),
                error,
                wait,
                extra={
                    "dependency": dependency,
                    "operation": operation,
                    "error_type": type(error).__name__,
                    "retry_in_s": wait,
                },
            )
            self._health.beat()
            self._sleep(wait)
            wait = min(wait * 2, max_wait_s)
            error = None


class _Stopped(Exception):
    """The process is stopping while a dependency is still failing with ``error``."""

    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error
