"""Run a blocking librdkafka transaction call with a deadline we can trust.

``send_offsets_to_transaction`` can block far past its own timeout when the group coordinator
goes away mid-call (librdkafka issues #5456 and #5511, open at the time of writing): a broker
restart at the wrong moment would wedge the loop forever. The call runs in a daemon thread; if
it has not returned by the deadline, the caller gets a *fatal* ``KafkaException`` and replaces
the producer (a new instance with the same ``transactional.id`` fences the stuck one and aborts
its transaction at the broker). The stuck thread is abandoned; being a daemon, it cannot keep
the process alive.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

from confluent_kafka import KafkaError, KafkaException

T = TypeVar("T")

#: Beyond librdkafka's own timeout, how long to wait before declaring the call stuck.
GRACE_S = 5.0


def call_with_deadline(what: str, fn: Callable[[], T], timeout_s: float) -> T:
    box: dict[str, object] = {}
    done = threading.Event()

    def run() -> None:
        try:
            box["result"] = fn()
        except BaseException as exc:  # handed to the caller's thread below
            box["error"] = exc
        finally:
            done.set()

    threading.Thread(target=run, name=f"kafka-{what}", daemon=True).start()
    if not done.wait(timeout_s + GRACE_S):
        raise KafkaException(
            KafkaError(
                KafkaError._TIMED_OUT,
                f"{what} did not return within {timeout_s + GRACE_S:.0f} s: producer abandoned",
                fatal=True,
            )
        )
    if "error" in box:
        error = box["error"]
        assert isinstance(error, BaseException)
        raise error
    return box["result"]  # type: ignore[return-value]
