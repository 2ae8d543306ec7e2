"""The operations HTTP endpoint: ``/metrics`` (Prometheus), ``/healthz`` (liveness), ``/readyz`` (readiness).

Liveness says the loop is turning (a wedged loop should be restarted); readiness says the
processor can do its job right now (Redis and Kafka answer), so an orchestrator can route
around it or page someone while it waits, without restarting a process that will recover.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest


@dataclass
class Health:
    """Written by the loop, read by the HTTP thread."""

    #: The loop must turn at least this often to count as alive (a batch, or an idle poll).
    stall_after_s: float = 120.0
    _beat: float = field(default_factory=time.monotonic)
    _not_ready: dict[str, str] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def beat(self) -> None:
        self._beat = time.monotonic()

    def set_not_ready(self, component: str, reason: str) -> None:
        with self._lock:
            self._not_ready[component] = reason

    def set_ready(self, component: str) -> None:
        with self._lock:
            self._not_ready.pop(component, None)

    def not_ready_components(self) -> set[str]:
        with self._lock:
            return set(self._not_ready)

    def live(self) -> tuple[bool, str]:
        age = time.monotonic() - self._beat
        if age > self.stall_after_s:
            return False, f"loop has not turned for {age:.0f} s"
        return True, "ok"

    def ready(self) -> tuple[bool, str]:
        with self._lock:
            problems = dict(self._not_ready)
        if problems:
            return False, "; ".join(f"{k}: {v}" for k, v in sorted(problems.items()))
        return True, "ok"


def serve(registry: CollectorRegistry, health: Health, host: str, port: int) -> ThreadingHTTPServer:
    """Start the endpoint in a daemon thread; returns the server (``server_address`` has the port)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                self._send(200, generate_latest(registry), CONTENT_TYPE_LATEST)
            elif path == "/healthz":
                ok, reason = health.live()
                self._send(200 if ok else 503, reason.encode() + b"\n")
            elif path == "/readyz":
                ok, reason = health.ready()
                self._send(200 if ok else 503, reason.encode() + b"\n")
            else:
                self._send(404, b"not found: try /metrics, /healthz, /readyz\n")

        def _send(self, status: int, body: bytes, content_type: str = "text/plain; charset=utf-8") -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return  # scrapes every few seconds would drown the log

    server = ThreadingHTTPServer((host, port), Handler)
    threading.Thread(target=server.serve_forever, name="ops-http", daemon=True).start()
    return server
