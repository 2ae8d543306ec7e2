"""One root exception, one subclass per stage.

Every stage error carries a stable machine-readable ``code``, a human message, the path of the
offending ``field`` when known, and the raw Kafka message it came from. A stage may raise one
inside its per-event helpers; at the stage's boundary it becomes a ``Reason`` value
(``exc.reason()``, processor/reason.py), which is what ``Rejected`` carries to the quarantine
record: nothing downstream of a stage handles an exception for an expected rejection.
"""

from __future__ import annotations

import traceback
from typing import ClassVar

from processor.raw_message import RawMessage
from processor.reason import Reason


class ProcessorError(Exception):
    """Root of every error this package raises on purpose."""

    stage: ClassVar[str] = "processing"

    def __init__(
        self,
        code: str,
        message: str,
        *,
        field: str | None = None,
        raw: RawMessage | None = None,
        event_type: str | None = None,
        event_id: str | None = None,
    ) -> None:
        super().__init__(f"{code}: {message}" + (f" (field {field})" if field else ""))
        self.code = code
        self.message = message
        self.field = field
        self.raw = raw
        # What the envelope told us before the failure, so quarantine records are searchable.
        self.event_type = event_type
        self.event_id = event_id[:200] if isinstance(event_id, str) else None

    def reason(self) -> Reason:
        """This error as the value a ``Rejected`` carries (at the boundary of the stage that raised it).

        The dead-letter headers name the cause when user code raised (a feature module's own
        exception, chained as ``__cause__``), else this error's class.
        """
        cause = self.__cause__ if isinstance(self.__cause__, Exception) else None
        kind = type(cause or self)
        name = kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"
        trace = None
        if cause is not None and cause.__traceback__ is not None:
            trace = "".join(traceback.format_exception(cause))
        return Reason(
            self.stage,
            self.code,
            self.message,
            self.field,
            self.event_type,
            self.event_id,
            exception=name,
            trace=trace,
        )


class ConfigError(ProcessorError):
    """Settings or pipeline configuration is invalid; raised at start-up, never per event."""

    stage = "config"


class DecodeError(ProcessorError):
    """The value bytes could not be turned into a record (encoding, framing, size)."""

    stage = "decode"


class SchemaError(ProcessorError):
    """The record does not satisfy its envelope or its Avro schema."""

    stage = "schema"


class SemanticError(ProcessorError):
    """The record is well-typed but its values are impossible (ranges, formats)."""

    stage = "semantic"


class LateEventError(ProcessorError):
    """The event arrived behind the reorder watermark and its type's policy quarantines late events."""

    stage = "late"


class FeatureError(ProcessorError):
    """An event type's feature module raised on one event (or returned a vector of the wrong length).

    The event is quarantined with ``stage=features`` and the exception's type in the message; the
    rest of the batch goes on.
    """

    stage = "features"


class ProcessingError(ProcessorError):
    """A later stage failed on one event (a feature function raised, an output would not encode).

    The event is quarantined with ``stage=processing``; the rest of the batch goes on. (A model
    failure is not one of these: the event falls back to rules, it is never dropped.)
    """

    stage = "processing"


def unexpected(
    exc: Exception, raw: RawMessage | None, event_type: str | None = None, event_id: str | None = None
) -> ProcessingError:
    """An exception no stage meant to raise, as a quarantinable error naming its type."""
    return ProcessingError(
        "unhandled_exception",
        f"{type(exc).__name__}: {exc}"[:1000],
        raw=raw,
        event_type=event_type,
        event_id=event_id,
    )


class StateError(ProcessorError):
    """Redis state is unreachable or inconsistent with the committed Kafka state."""

    stage = "state"


#: The stages a quarantine record may name, in pipeline order.
QUARANTINE_STAGES = ("decode", "schema", "semantic", "late", "features", "processing")
