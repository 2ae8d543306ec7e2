"""Features of ``jira_ticket_created`` for the urgency model: every ticket feature except two.

The model predicts whether a new ticket is urgent (Blocker or Critical). The priority field is
that very label, so it must not be an input (the leak guard of ``processor train`` refuses it:
alone it separates the labels perfectly). The reporter count (``tickets_same_reporter_30d``) is
left out too: the Hadoop tickets this model is trained and measured on (``make eval``) carry no
reporter, so the simulator invents one from a hash of the issue id, and a feature computed from
invented data is noise that would only flatter or blur the real-data figures. Everything else is
``jira_ticket_created``'s own code, reused as is, so training and serving share one
implementation of the text features.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from processor.features import jira_ticket_created as _ticket
from processor.features.base import HistoryCounter

_EXCLUDED = frozenset({"priority_code", "tickets_same_reporter_30d"})
_KEEP: tuple[int, ...] = tuple(i for i, name in enumerate(_ticket.FEATURE_NAMES) if name not in _EXCLUDED)

HISTORY: tuple[HistoryCounter, ...] = tuple(c for c in _ticket.HISTORY if c.name not in _EXCLUDED)
FEATURE_NAMES: tuple[str, ...] = tuple(_ticket.FEATURE_NAMES[i] for i in _KEEP)


def compute(record: Mapping[str, Any], history: Mapping[str, int]) -> list[float]:
    full = _ticket.compute(record, history)
    return [full[i] for i in _KEEP]
