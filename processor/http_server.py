"""Run an HTTP service (the gateway, the review app) under uvicorn until SIGTERM or SIGINT.

uvicorn (0.29 and later) re-raises the signal that stopped it once its graceful shutdown is done,
so that the process dies by that signal. The process then ends inside ``uvicorn.run``: code after
it never runs (the review app's ``finally``, which stops its monitor and ingest threads and
flushes the decision producer), and the exit status is -15, which an orchestrator reports as 143
and counts as a crash. Here the signal only asks the server to stop; the caller's cleanup then
runs and the process exits 0. A second SIGINT still forces the exit, as in uvicorn.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

import uvicorn

_HANDLED = (signal.SIGINT, signal.SIGTERM)


class GracefulServer(uvicorn.Server):
    """A uvicorn server that returns after a signal-initiated shutdown instead of re-raising it."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield  # signals reach the main thread only
            return
        original = {sig: signal.signal(sig, self.handle_exit) for sig in _HANDLED}
        try:
            yield
        finally:
            for sig, handler in original.items():
                signal.signal(sig, handler)


def serve(config: uvicorn.Config) -> None:
    """Serve until a stop signal; returns once open requests are drained and the app shut down."""
    GracefulServer(config).run()
