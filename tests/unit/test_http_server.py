"""The HTTP services stop on SIGTERM by returning, so their cleanup runs and they exit 0."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx

_SERVICE = textwrap.dedent(
    """
    import sys
    import uvicorn
    from processor import http_server

    async def app(scope, receive, send):
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    try:
        http_server.serve(uvicorn.Config(app, host="127.0.0.1", port=int(sys.argv[1]), log_config=None))
    finally:
        open(sys.argv[2], "w").write("cleaned up")
    """
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _serve(tmp_path: Path) -> tuple[subprocess.Popen[bytes], Path]:
    port, marker = _free_port(), tmp_path / "cleanup"
    proc = subprocess.Popen([sys.executable, "-c", _SERVICE, str(port), str(marker)])
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the service died while starting"
        try:
            if httpx.get(f"http://127.0.0.1:{port}/").status_code == 200:
                return proc, marker
        except httpx.HTTPError:
            time.sleep(0.05)
    proc.kill()
    raise TimeoutError("the service did not answer within 30 s")


def test_sigterm_returns_from_serve_runs_the_cleanup_and_exits_0(tmp_path: Path) -> None:
    proc, marker = _serve(tmp_path)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 0  # plain uvicorn.Server re-raises SIGTERM: -15, and no cleanup
    assert marker.read_text() == "cleaned up"


def test_sigint_stops_it_the_same_way(tmp_path: Path) -> None:
    proc, marker = _serve(tmp_path)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(30) == 0
    assert marker.read_text() == "cleaned up"
