"""Uploaded files on disk, content-addressed: ``<dir>/<sha256[:2]>/<sha256>``.

The same bytes uploaded twice are stored once; a file appears under its name only when it is
complete (written to a temporary name, flushed, then renamed), so a crash never leaves a
half-written document that looks whole.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


class DocumentStore:
    def __init__(self, root: Path) -> None:
        self._root = root

    def path_for(self, sha256: str) -> Path:
        return self._root / sha256[:2] / sha256

    def put(self, data: bytes, sha256: str) -> str:
        """Store the bytes (idempotent) and return their URI."""
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
