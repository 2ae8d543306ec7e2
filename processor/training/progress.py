"""A progress bar for training, on stderr: stages as they finish, and boosting rounds as a bar.

On a terminal the bar redraws in place; into a file or a CI log it prints a line every 10% so
the log stays readable. ``Progress.silent()`` (the default in library calls and tests) prints nothing.
"""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO


class Progress:
    def __init__(self, stream: TextIO | None = None, width: int = 30) -> None:
        self._stream = stream
        self._width = width
        self._started = time.monotonic()
        self._last_decile = -1
        self._tty = bool(stream is not None and hasattr(stream, "isatty") and stream.isatty())

    @classmethod
    def silent(cls) -> Progress:
        return cls(None)

    @classmethod
    def to_stderr(cls) -> Progress:
        return cls(sys.stderr)

    def stage(self, text: str) -> None:
        if self._stream is None:
            return
        self._stream.write(f"[{time.monotonic() - self._started:6.1f}s] {text}\n")
        self._stream.flush()

    def bar(self, label: str, done: int, total: int, suffix: str = "") -> None:
        if self._stream is None or total <= 0:
            return
        share = min(1.0, done / total)
        filled = int(self._width * share)
        line = f"{label} [{'#' * filled}{'.' * (self._width - filled)}] {done}/{total} {suffix}"
        if self._tty:
            self._stream.write("\r" + line + ("\n" if done >= total else ""))
            self._stream.flush()
            return
        decile = int(share * 10)
        if decile != self._last_decile:
            self._last_decile = decile
            self._stream.write(line + "\n")
            self._stream.flush()

    def lightgbm_callback(self, total_rounds: int, label: str = "boosting") -> Any:
        """A LightGBM callback drawing the boosting rounds, with the latest validation metric."""

        def callback(env: Any) -> None:
            metric = ""
            if env.evaluation_result_list:
                _, name, value, _ = env.evaluation_result_list[0][:4]
                metric = f"{name} {value:.4f}"
            self.bar(f"{label:<20}", env.iteration + 1, total_rounds, metric)

        callback.order = 30  # type: ignore[attr-defined]  # after early stopping's bookkeeping
        return callback

    def finish_bar(self) -> None:
        if self._stream is not None and self._tty:
            self._stream.write("\n")
            self._stream.flush()
        self._last_decile = -1
