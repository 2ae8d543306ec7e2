"""Redis memory per event: ``used_memory`` after a processor run minus before, over the events.

The figure counts everything the processor writes (dedupe marks, entity history, reorder buffers
and their undo records, scripts, the model registry), not a sample of one kind of key. To keep
other writers out of the delta, the run gets a Redis of its own: a private ``redis-server`` on a
free local port, no persistence, the server's default encodings, stopped afterwards. Without a
``redis-server`` binary the configured Redis is used and the figure says so (``shared``), since
anything else written there during the run lands in the delta too.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator

import redis


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def private_redis() -> Iterator[str | None]:
    """The URL of a fresh ``redis-server`` for the measurement, or None when there is none."""
    binary = shutil.which("redis-server")
    if binary is None:
        yield None
        return
    port = _free_port()
    with tempfile.TemporaryDirectory(prefix="bench-redis-") as workdir:
        proc = subprocess.Popen(
            [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            cwd=workdir,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        url = f"redis://127.0.0.1:{port}/0"
        try:
            client = redis.Redis.from_url(url)
            deadline = time.monotonic() + 10
            while True:
                try:
                    client.ping()
                    break
                except redis.ConnectionError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def used_memory(client: redis.Redis) -> int:
    """``INFO memory`` used_memory, bytes (on a cluster client: of the node it asks first)."""
    return int(client.info("memory")["used_memory"])
