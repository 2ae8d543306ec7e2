"""Run a CPU-heavy step on hostile input in a child process with CPU-time, memory and wall-clock
limits, without blocking the event loop.

A thread would not do: parsing JSON or a PDF holds the GIL, so ``/healthz`` stalls for every
client while one request's body is worked on, and a thread cannot be stopped. A child can be
limited (``resource.setrlimit`` before it starts work) and killed. Children are forked from a
forkserver that has already imported the gateway's modules, so starting one costs milliseconds.
"""

from __future__ import annotations

import logging
import math
import multiprocessing
import os
import resource
import threading
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from starlette.concurrency import run_in_threadpool

log = logging.getLogger("processor.ingest.sandbox")

_CONTEXT = multiprocessing.get_context("forkserver")
_CONTEXT.set_forkserver_preload(["processor.ingest.work"])
_warm = threading.Lock()


@dataclass(frozen=True)
class Limits:
    cpu_s: float
    memory_bytes: int
    wall_s: float


class TooComplex(Exception):
    """The step ran out of CPU time, memory or wall-clock time and was stopped."""

    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what


def warm_up() -> None:
    """Start the forkserver now (it imports the gateway's modules once), not on the first request."""
    with _warm:
        from multiprocessing import forkserver

        forkserver.ensure_running()


async def run_limited(fn: Callable[..., Any], *args: Any, limits: Limits) -> Any:
    """``run_blocking`` on a worker thread: the event loop only waits."""
    return await run_in_threadpool(run_blocking, fn, *args, limits=limits)


def run_blocking(fn: Callable[..., Any], *args: Any, limits: Limits) -> Any:
    """``fn(*args)`` in a limited child; its exceptions are re-raised here (they must pickle), and
    running out of a limit raises ``TooComplex``."""
    receiver, sender = _CONTEXT.Pipe(duplex=False)
    process = _CONTEXT.Process(target=_child, args=(sender, fn, args, limits), daemon=True)
    process.start()
    sender.close()
    try:
        if not receiver.poll(limits.wall_s):
            raise TooComplex(f"took longer than {limits.wall_s:g} s")
        try:
            outcome, value = receiver.recv()
        except EOFError:  # killed by the CPU limit (SIGXCPU/SIGKILL) or out of memory in C code
            process.join(1.0)
            raise TooComplex(f"stopped by its limits (exit {process.exitcode})") from None
    finally:
        receiver.close()
        if process.is_alive():
            process.kill()
        process.join(5.0)
    if outcome == "ok":
        return value
    if outcome == "too_complex":
        raise TooComplex(str(value))
    raise value


def _child(sender: Connection, fn: Callable[..., Any], args: tuple[Any, ...], limits: Limits) -> None:
    os.nice(10)  # the event loop's process must win the CPU over hostile work
    cpu = max(1, math.ceil(limits.cpu_s))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))  # SIGXCPU at the soft limit, SIGKILL at the hard
    resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
    try:
        result: tuple[str, Any] = ("ok", fn(*args))
    except MemoryError:
        result = ("too_complex", f"needed more than {limits.memory_bytes:,} bytes of memory")
    except RecursionError:
        result = ("too_complex", "nested too deeply to process")
    except Exception as exc:  # handed back to the caller, which knows what it means
        result = ("error", exc)
    try:
        sender.send(result)
    except MemoryError:
        sender.send(("too_complex", "the result did not fit the memory limit"))
    finally:
        sender.close()
