"""Why an input was rejected, as a plain value.

A stage turns an expected failure (a body that is not JSON, a field out of range, a late event)
into a ``Reason`` at its boundary; ``Rejected`` carries it to the quarantine record, the metrics,
the logs and the audit, none of which handles an exception for it. Exceptions stay for the
unexpected: bad settings at start-up, Redis state that cannot be trusted, bugs.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Reason:
    #: The stage that rejected the input (``processor.errors.QUARANTINE_STAGES``).
    stage: str
    #: Stable, machine-readable: dashboards and ``processor quarantine`` group by it.
    code: str
    #: For a person; may quote part of the value, so it goes to the quarantine topic, never the logs.
    message: str
    #: Path of the offending field, when one is to blame. (It shadows ``dataclasses.field`` in this
    #: class body, hence ``dataclasses.field`` below.)
    field: str | None = None
    #: What the envelope told before the failure, so quarantine records are searchable.
    event_type: str | None = None
    event_id: str | None = None
    #: For the dead-letter headers (KIP-1034): the qualified class of the exception behind the
    #: rejection (the stage's error class, or the user code's own, e.g. a feature module's
    #: ``KeyError``), and that exception's formatted traceback when user code raised it.
    exception: str = dataclasses.field(kw_only=True)
    trace: str | None = dataclasses.field(default=None, kw_only=True)
