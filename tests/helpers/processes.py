"""Stopping the servers and processors a test started: SIGTERM (a clean shutdown is part of what
is tested), then SIGKILL if it does not come in time, so no test leaves a process behind."""

from __future__ import annotations

import subprocess


def stop(proc: subprocess.Popen[bytes], grace_s: float = 20.0) -> None:
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(grace_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)
