"""Connection limits the HTTP services (the gateway and the review app) put on uvicorn.

uvicorn has no header-read timeout: its keep-alive timer starts only after a response, and the
first bytes of a request cancel it, so a client that opens connections and sends half a request
holds each one for ever (200 of them were still open after 150 s). ``bounded_h11`` closes a
connection that has not sent complete request headers within ``header_timeout_s`` of opening or
of its previous response. The rest are uvicorn's own options: ``timeout_keep_alive`` (idle
keep-alive connections), ``limit_concurrency`` (past it new requests get 503), and h11's
``max_incomplete_event_size`` (the largest request head).
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol


def bounded_h11(header_timeout_s: float) -> type[H11Protocol]:
    """uvicorn's h11 protocol with a header-read timeout."""

    class BoundedH11Protocol(H11Protocol):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._header_timer: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def handle_events(self) -> None:
            super().handle_events()
            if self._request_running():
                self._disarm()  # the headers are in: the application bounds the rest

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing():
                self._arm()  # the next request's headers get the same time

        def _request_running(self) -> bool:
            return self.cycle is not None and not self.cycle.response_complete

        def _arm(self) -> None:
            self._disarm()
            self._header_timer = self.loop.call_later(header_timeout_s, self._headers_too_slow)

        def _disarm(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def _headers_too_slow(self) -> None:
            self._header_timer = None
            if not self._request_running() and not self.transport.is_closing():
                self.transport.close()

    return BoundedH11Protocol


def uvicorn_limits(
    *, header_timeout_s: float, keep_alive_timeout_s: int, max_connections: int, max_header_bytes: int
) -> dict[str, Any]:
    """Keyword arguments for ``uvicorn.Config``/``uvicorn.run``."""
    return {
        "http": bounded_h11(header_timeout_s),
        "timeout_keep_alive": keep_alive_timeout_s,
        "limit_concurrency": max_connections,
        "h11_max_incomplete_event_size": max_header_bytes,
    }
