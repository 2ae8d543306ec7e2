"""Poison isolation: an event that makes a stage raise must not stall its partition forever.

A stage that raises something unexpected (a bug only some input triggers, in code with no guard
of its own) fails the whole batch. The loop undoes the batch (rewinds to the last commit) and this
policy decides what comes next: a batch of several messages is read again one message at a time,
so the others go through; a single message that still raises on its own is the poison event, and
is quarantined with ``stage=processing``, ``error_code=unhandled_exception`` instead of being
retried for ever.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from processor.batch_stats import BatchStats
from processor.errors import ProcessingError
from processor.logs import input_fields
from processor.messages import RawMessage, Rejected
from processor.pipeline import PreparedBatch
from processor.stages.route import Router

log = logging.getLogger(__name__)


class PoisonPolicy:
    def __init__(self, router: Router) -> None:
        self._router = router
        self._isolating = 0  # messages still to process one by one after a batch raised

    def batch_size(self, normal: int) -> int:
        """How many messages the next consume may take: one at a time while isolating."""
        return 1 if self._isolating > 0 else normal

    def consumed(self, count: int) -> None:
        self._isolating = max(0, self._isolating - count)

    def isolate(self, raws: Sequence[RawMessage], exc: Exception) -> PreparedBatch | None:
        """The batch of ``raws`` raised ``exc`` and was undone. None: redo it one message at a
        time. Otherwise the single message is the poison event: the batch that quarantines it."""
        if len(raws) > 1:
            log.warning(
                "batch of %d raised %s: redoing it one message at a time",
                len(raws),
                type(exc).__name__,
                extra={"batch_size": len(raws), "error_type": type(exc).__name__},
            )
            self._isolating = len(raws)
            return None
        raw = raws[0]
        log.error(
            "poison event at %s:%d:%d quarantined",
            raw.topic,
            raw.partition,
            raw.offset,
            exc_info=exc,
            extra=input_fields(
                raw.topic,
                raw.partition,
                raw.offset,
                stage="processing",
                error_code="unhandled_exception",
                error_type=type(exc).__name__,
            ),
        )
        error = ProcessingError("unhandled_exception", f"{type(exc).__name__}: {exc}"[:1000], raw=raw).reason()
        stats = BatchStats(inputs=1)
        stats.quarantined[(error.stage, error.code)] += 1
        stats.outcomes[("unknown", "quarantined")] += 1
        record = self._router.quarantined(Rejected(raw, error), int(time.time() * 1000))
        return PreparedBatch(outputs=[record], changes=[], stats=stats)
