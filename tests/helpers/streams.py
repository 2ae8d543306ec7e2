"""A stream produced from a thread that can fail the run: the chaos and scale harnesses' producer.

A harness that produces its input stream in the background must know that the stream it meant to
send is the stream the broker holds. Otherwise a producer thread that died, a delivery that failed
or a flush that timed out leaves fewer inputs in the topic, and the audit (which counts what the
topic holds) still says ``lost=0``. So ``StreamProducer``:

- counts every delivery report (delivered and failed) from one idempotent producer;
- checks the flush result (messages still queued when it gave up);
- keeps any exception of its thread and raises it, as ``StreamFailed``, from ``wait`` and ``check``;
- fails when the delivered count differs from the configured one.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from confluent_kafka import KafkaError, Producer

Message = tuple[bytes | None, bytes | None]  # (key, value)


class StreamFailed(RuntimeError):
    """The stream the harness meant to produce is not the one the broker holds: the run is invalid."""


class StreamProducer:
    """Produces ``messages`` to ``topic`` from a thread, ``chunk`` at a time, calling ``pace`` after each chunk.

    ``pace(handed)`` gets the number of messages handed to the producer so far (it sleeps to hold a
    rate, or between chunks). ``config`` is the librdkafka configuration; idempotence is forced on
    so a retried send is never a duplicate input.
    """

    def __init__(
        self,
        config: dict[str, Any],
        topic: str,
        messages: Sequence[Message],
        *,
        chunk: int,
        pace: Callable[[int], None] | None = None,
        flush_timeout_s: float = 300.0,
    ) -> None:
        if chunk < 1:
            raise ValueError(f"chunk must be >= 1, got {chunk}")
        self._config = {**config, "enable.idempotence": True}
        self._topic = topic
        self._messages = messages
        self._chunk = chunk
        self._pace = pace or (lambda _handed: None)
        self._flush_timeout_s = flush_timeout_s
        self.expected = len(messages)
        self.handed = 0  # messages given to the producer (not yet delivered)
        self.delivered = 0
        self.failures: list[str] = []
        self.unflushed: int | None = None  # what flush left queued; None until it returned
        self.elapsed_s = 0.0
        self.error: BaseException | None = None
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name=f"stream-{topic}", daemon=True)

    def start(self) -> StreamProducer:
        self._thread.start()
        return self

    def _on_delivery(self, err: KafkaError | None, _msg: object) -> None:
        with self._lock:
            if err is None:
                self.delivered += 1
            else:
                self.failures.append(str(err))

    def _run(self) -> None:
        try:
            producer = Producer(self._config)
            t0 = time.monotonic()
            for start in range(0, self.expected, self._chunk):
                for key, value in self._messages[start : start + self._chunk]:
                    while True:
                        try:
                            producer.produce(self._topic, value, key, on_delivery=self._on_delivery)
                            break
                        except BufferError:
                            producer.poll(0.05)
                    self.handed += 1
                producer.poll(0)
                self._pace(self.handed)
            self.unflushed = producer.flush(self._flush_timeout_s)
            self.elapsed_s = time.monotonic() - t0
        except BaseException as exc:  # kept, and raised in the harness's thread by wait/check
            self.error = exc

    def check(self) -> None:
        """Raise ``StreamFailed`` now if the thread has died or a delivery has failed (the stream may still run)."""
        if self.error is not None:
            raise StreamFailed(
                f"the producer thread died after handing {self.handed} of {self.expected} messages: "
                f"{type(self.error).__name__}: {self.error}"
            ) from self.error
        with self._lock:
            if self.failures:
                raise StreamFailed(
                    f"{len(self.failures)} of {self.expected} messages not delivered, e.g. {self.failures[0]}"
                )

    @property
    def done(self) -> bool:
        return not self._thread.is_alive()

    def wait(self, timeout_s: float) -> int:
        """Wait for the whole stream; the delivered count, or ``StreamFailed`` if it is not the configured one."""
        self._thread.join(timeout_s)
        if self._thread.is_alive():
            raise StreamFailed(
                f"the stream was still producing after {timeout_s:.0f}s ({self.handed} of {self.expected} handed, "
                f"{self.delivered} delivered)"
            )
        self.check()
        if self.unflushed:
            raise StreamFailed(f"flush gave up with {self.unflushed} of {self.expected} messages still queued")
        if self.delivered != self.expected:
            raise StreamFailed(f"{self.delivered} messages delivered, {self.expected} configured")
        return self.delivered
