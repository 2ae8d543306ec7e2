"""Real Apache Hadoop Jira bugs, replayed as ``jira_ticket_created`` events.

The data set is ``data/jira-hadoop/hadoop_bugs.csv`` (2,503 bugs created 2020-01 to 2024-12,
from the GitBugs collection, CC BY 4.0; its attribution lives in ``data/jira-hadoop/NOTICE.md``
and must travel with any copy or derivative). Replaying real tickets rather than invented ones
gives the ``jira_ticket_created`` model text with the length, vocabulary and noise of real bug
reports, and labels that real maintainers decided.

Each CSV row is mapped the way Jira's ``jira:issue_created`` webhook would describe the issue at
creation time. Three fields the CSV lacks are derived, stably, from the issue id alone (never
from the row's position, so a bigger or re-sorted CSV keeps every ticket's identity):

- ``issue_key``: ``HADOOP-<issue id mod 1,000,000>``. Not the real key (the CSV does not carry
  it), but unique across the data set (its ids span less than a million), stable, and increasing
  with creation like real keys.
- ``reporter``: ``reporter-NNN``, one of 300 pseudonyms picked by a hash of the issue id. The
  hash is skewed (a few pseudonyms file many tickets) because real reporter activity is.
- ``event_id``: a UUID5 of the issue id and creation time, so replaying the same ticket twice
  yields the same id and the processor deduplicates it; wrapped replays add the cycle number.

What the webhook would not know at creation (status, resolution, resolved date) is never put in
the event. The ground-truth label is urgency (issue 5): ``urgent`` when the ticket's priority is
Blocker or Critical, ``routine`` otherwise. The priority does travel in the event (the webhook has
it), so the ``jira_ticket_urgency`` feature module leaves it out: the model predicts urgency from
what the reporter wrote, the affected versions and the time. ``label_for`` (the resolution's
verdict, actionable or not) is kept for analysis.
"""

from __future__ import annotations

import csv
import hashlib
import math
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from processor.config import PROJECT_ROOT

DEFAULT_CSV = PROJECT_ROOT / "data" / "jira-hadoop" / "hadoop_bugs.csv"
NOTICE_FILE = PROJECT_ROOT / "data" / "jira-hadoop" / "NOTICE.md"

EVENT_TYPE = "jira_ticket_created"
PROJECT_KEY = "HADOOP"
SOURCE = "jira"
WEBHOOK_EVENT = "jira:issue_created"
REPORTER_POOL = 300

#: Resolutions that mean "nothing in the code base needed to change": the positive class.
NOT_ACTIONABLE = frozenset(
    {
        "Duplicate",
        "Won't Fix",
        "Invalid",
        "Not A Problem",
        "Cannot Reproduce",
        "Not A Bug",
        "Works for Me",
        "Abandoned",
        "Won't Do",
        "Later",
        "Information Provided",
    }
)
#: Priorities that make a ticket urgent: the positive class of the jira_ticket_created model.
URGENT_PRIORITIES = frozenset({"Blocker", "Critical"})
#: Resolutions that mean the ticket led to work.
ACTIONABLE = frozenset({"Fixed", "Done", "Implemented", "Resolved", "Workaround", "Pending Closed"})

# A fixed namespace so event ids are the same on every machine and every run.
_EVENT_NAMESPACE = uuid.UUID("6f1c2a4e-93b5-5d0e-9a47-1d2b8c3e4f50")
_MONTHS = {
    m: i for i, m in enumerate(("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1)
}
_WEEK_MS = 7 * 86_400_000
# The validator rejects event times before 2000-01-01; wrapped replays stay clear of it.
_EARLIEST_REPLAY_MS = 946_684_800_000 + 180 * 86_400_000


@dataclass(frozen=True, slots=True)
class JiraTicket:
    """One CSV row, mapped and parsed; ``label`` is the urgency (``urgency_label``)."""

    issue_id: str
    issue_key: str
    priority: str
    summary: str
    description: str | None
    affects_versions: tuple[str, ...]
    reporter: str
    created_ms: int
    resolution: str | None
    label: str | None


def issue_key_for(issue_id: str) -> str:
    """``HADOOP-<id mod 1,000,000>``: a stable stand-in for the key the CSV does not carry."""
    return f"{PROJECT_KEY}-{int(issue_id) % 1_000_000}"


def reporter_for(issue_id: str) -> str:
    """A pseudonymous reporter, a stable function of the issue id.

    The uniform hash is raised to a power so low pseudonym numbers are picked far more often:
    about 40% of tickets go to the busiest 10% of reporters, as in real projects.
    """
    digest = hashlib.sha256(f"{PROJECT_KEY}:{issue_id}".encode()).digest()
    u = int.from_bytes(digest[:8], "big") / 2**64
    return f"reporter-{min(REPORTER_POOL - 1, int(REPORTER_POOL * u**2.5)):03d}"


def event_id_for(issue_id: str, created_ms: int, replay: int = 0) -> str:
    """Deterministic, so a replay of the same ticket is a duplicate the processor drops.

    ``replay`` tells apart the extra copies a wrapped replay makes (0: the canonical event).
    """
    name = f"{PROJECT_KEY}:{issue_id}:{created_ms}" + (f":replay-{replay}" if replay else "")
    return str(uuid.uuid5(_EVENT_NAMESPACE, name))


def urgency_label(priority: str) -> str:
    """``urgent`` (Blocker, Critical) or ``routine``: the label the jira_ticket_created model learns."""
    return "urgent" if priority.strip() in URGENT_PRIORITIES else "routine"


def label_for(resolution: str | None) -> str | None:
    """``not_actionable`` / ``actionable`` from the resolution; None when unresolved or unknown."""
    if not resolution:
        return None
    if resolution in NOT_ACTIONABLE:
        return "not_actionable"
    if resolution in ACTIONABLE:
        return "actionable"
    return None


def parse_created(text: str) -> int:
    """``30/Sep/21 17:20`` (UTC) to epoch ms. Months are mapped by hand: ``%b`` follows the locale."""
    try:
        date, clock = text.strip().split(" ")
        day, month, year = date.split("/")
        hour, minute = clock.split(":")
        when = datetime(2000 + int(year), _MONTHS[month], int(day), int(hour), int(minute), tzinfo=UTC)
    except (ValueError, KeyError) as exc:
        raise ValueError(f"unparsable Jira date {text!r} (expected like 30/Sep/21 17:20)") from exc
    return int(when.timestamp()) * 1000


def load_tickets(path: Path | None = None) -> tuple[JiraTicket, ...]:
    """Every ticket of the CSV, in creation order (then issue id). Cached per file."""
    resolved = (path or DEFAULT_CSV).resolve()
    stat = resolved.stat()
    return _load(str(resolved), stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=4)
def _load(path: str, _mtime_ns: int, _size: int) -> tuple[JiraTicket, ...]:
    # The mtime and size are part of the cache key so an edited file is read again.
    tickets = []
    with open(path, newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            issue_id = row["Issue id"].strip()
            resolution = row["Resolution"].strip() or None
            versions = tuple(v.strip() for v in row["Affects Version/s"].split(",") if v.strip())
            tickets.append(
                JiraTicket(
                    issue_id=issue_id,
                    issue_key=issue_key_for(issue_id),
                    priority=row["Priority"].strip(),
                    summary=row["Summary"],
                    description=row["Description"] or None,
                    affects_versions=versions,
                    reporter=reporter_for(issue_id),
                    created_ms=parse_created(row["Created"]),
                    resolution=resolution,
                    label=urgency_label(row["Priority"]),
                )
            )
    if not tickets:
        raise ValueError(f"{path} holds no Jira tickets")
    tickets.sort(key=lambda t: (t.created_ms, int(t.issue_id)))
    return tuple(tickets)


def ticket_record(ticket: JiraTicket, *, event_id: str, occurred_at: int) -> dict[str, Any]:
    """The event a ``jira:issue_created`` webhook relay would produce, every schema field present."""
    return {
        "event_id": event_id,
        "event_type": EVENT_TYPE,
        "schema_version": 1,
        "occurred_at": occurred_at,
        "entity_id": ticket.issue_key,
        "sequence": None,
        "source": SOURCE,
        "issue_id": ticket.issue_id,
        "issue_key": ticket.issue_key,
        "project_key": PROJECT_KEY,
        "issue_type": "Bug",
        "priority": ticket.priority,
        "summary": ticket.summary,
        "description": ticket.description,
        "reporter": ticket.reporter,
        "components": [],
        "affects_versions": list(ticket.affects_versions),
        "labels": [],
        "status": "Open",
        "created": occurred_at,
        "webhook_event": WEBHOOK_EVENT,
    }


class JiraReplay:
    """Yields the tickets in creation order, wrapping around when ``total`` exceeds the data set.

    Event time must keep increasing across a wrap, or every wrapped ticket would land behind the
    reorder watermark. Shifting later replays forward would put them in the future, so the earlier
    cycles are shifted back instead, by the data set's span rounded up to whole weeks (weekday and
    hour of day survive): the last cycle carries the real creation times. Should the earliest cycle
    fall before 2000 (more than about four wraps), the cycles are squeezed to fit, in order.
    """

    def __init__(self, tickets: tuple[JiraTicket, ...], total: int) -> None:
        if not tickets:
            raise ValueError("no Jira tickets to replay")
        self._tickets = tickets
        self.total = max(0, total)
        self.cycles = max(1, math.ceil(self.total / len(tickets)))
        first, last = tickets[0].created_ms, tickets[-1].created_ms
        self._first = first
        period = (math.floor((last - first) / _WEEK_MS) + 1) * _WEEK_MS
        earliest = first - (self.cycles - 1) * period
        self._scale = 1.0
        if earliest < _EARLIEST_REPLAY_MS:
            self._scale = (first - _EARLIEST_REPLAY_MS) / ((self.cycles - 1) * period)
        self._period = period
        self._emitted = 0

    def time_of(self, ticket: JiraTicket, cycle: int) -> int:
        back = self.cycles - 1 - cycle
        if self._scale == 1.0:
            return ticket.created_ms - back * self._period
        base = self._first - round(back * self._period * self._scale)
        return base + round((ticket.created_ms - self._first) * self._scale)

    def next(self) -> tuple[JiraTicket, int, str]:
        """The next ticket, its (possibly shifted) event time and its event id."""
        cycle, index = divmod(self._emitted, len(self._tickets))
        self._emitted += 1
        ticket = self._tickets[index]
        # The copy with the real creation times has the canonical id; earlier copies are told apart
        # by how many cycles back they sit.
        back = self.cycles - 1 - cycle
        return ticket, self.time_of(ticket, cycle), event_id_for(ticket.issue_id, ticket.created_ms, back)
