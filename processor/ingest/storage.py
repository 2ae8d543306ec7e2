"""Uploaded files on disk, content-addressed: ``<dir>/<sha256[:2]>/<sha256>``.

An upload streams to a temporary file in the same directory (hashed as it is written, never held
in memory), is inspected there, and is then renamed to its content address (or deleted). The
same bytes uploaded twice are stored once; a file appears under its name only when it is complete
(flushed, then renamed), so a crash never leaves a half-written document that looks whole.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class Incoming:
    """An upload written to a temporary file, not yet kept."""

    path: Path
    size: int
    sha256: str


class TooLarge(Exception):
    pass


class DocumentStore:
    def __init__(self, root: Path) -> None:
        self._root = root

    def path_for(self, sha256: str) -> Path:
        return self._root / sha256[:2] / sha256

    def receive(self, source: BinaryIO, limit: int) -> Incoming:
        """Copy ``source`` to a temporary file here, hashing it; ``TooLarge`` past ``limit`` bytes."""
        incoming = self._root / ".incoming"
        incoming.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=incoming, prefix="upload-")
        digest, size = hashlib.sha256(), 0
        try:
            with os.fdopen(fd, "wb") as handle:
                while chunk := source.read(_CHUNK):
                    size += len(chunk)
                    if size > limit:
                        raise TooLarge(f"over {limit:,} bytes")
                    digest.update(chunk)
                    handle.write(chunk)
                handle.flush()
                os.fsync(handle.fileno())
        except BaseException:
            Path(name).unlink(missing_ok=True)
            raise
        return Incoming(Path(name), size, digest.hexdigest())

    def keep(self, incoming: Incoming) -> str:
        """Move a received file to its content address (idempotent) and return its URI."""
        path = self.path_for(incoming.sha256)
        if path.exists():
            incoming.path.unlink(missing_ok=True)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            os.replace(incoming.path, path)
        return path.resolve().as_uri()

    def put(self, data: bytes, sha256: str) -> str:
        """Store bytes already in memory (idempotent) and return their URI."""
        path = self.path_for(sha256)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(data)
                    handle.flush()
                    os.fsync(handle.fileno())
                os.replace(tmp, path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        return path.resolve().as_uri()


class UploadQuota:
    """Bytes each client may upload per sliding window, kept in this process (each replica
    counts its own share; the Ingress spreads a client over them)."""

    def __init__(self, max_bytes: int, window_s: float) -> None:
        self._max = max_bytes
        self._window = window_s
        self._used: dict[str, deque[tuple[float, int]]] = {}
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self._max > 0

    def used(self, client: str) -> int:
        with self._lock:
            return self._trimmed(client)

    def charge(self, client: str, size: int) -> bool:
        """Count ``size`` bytes against the client; False (and nothing counted) when over the quota."""
        if not self.enabled:
            return True
        with self._lock:
            if self._trimmed(client) + size > self._max:
                return False
            self._used.setdefault(client, deque()).append((time.monotonic(), size))
            return True

    def _trimmed(self, client: str) -> int:
        entries = self._used.get(client)
        if not entries:
            return 0
        cutoff = time.monotonic() - self._window
        while entries and entries[0][0] < cutoff:
            entries.popleft()
        return sum(size for _, size in entries)
