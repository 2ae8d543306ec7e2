"""The Hadoop Jira data set as jira_ticket_created events (data: data/jira-hadoop, see NOTICE.md)."""

from __future__ import annotations

import csv
import re
from collections import Counter
from datetime import UTC, datetime

import pytest

from processor.devtools.simulate.jira_dataset import (
    ACTIONABLE,
    NOT_ACTIONABLE,
    NOTICE_FILE,
    REPORTER_POOL,
    JiraReplay,
    event_id_for,
    issue_key_for,
    label_for,
    load_tickets,
    parse_created,
    reporter_for,
    ticket_record,
    urgency_label,
)

_EARLIEST_VALID_MS = 946_684_800_000  # the validator's floor: 2000-01-01


def test_every_row_loads_in_creation_order():
    tickets = load_tickets()
    assert len(tickets) == 2503
    created = [t.created_ms for t in tickets]
    assert created == sorted(created)
    assert datetime.fromtimestamp(created[0] / 1000, UTC).year == 2020
    assert datetime.fromtimestamp(created[-1] / 1000, UTC).year == 2024
    assert NOTICE_FILE.is_file()  # the attribution travels with the data


def test_loading_is_cached():
    assert load_tickets() is load_tickets()


def test_labels_are_the_urgency():
    counts = Counter(t.label for t in load_tickets())
    assert counts == {"urgent": 162, "routine": 2341}  # Blocker 76 + Critical 86; Major, Minor, Trivial
    assert urgency_label("Blocker") == urgency_label("Critical") == "urgent" != urgency_label("Major")


def test_resolution_verdicts():
    counts = Counter(label_for(t.resolution) for t in load_tickets())
    # Fixed 1374 + Done 41 + Implemented 3 + Workaround 2 + Resolved 2 + Pending Closed 1
    assert counts["actionable"] == 1423
    # Duplicate 151, Won't Fix 55, Invalid 31, Not A Problem 26, Cannot Reproduce 16, Abandoned 9,
    # Not A Bug 8, Works for Me 6, Later 3, Information Provided 3, Won't Do 2
    assert counts["not_actionable"] == 310
    assert counts[None] == 770  # unresolved: no ground truth yet
    assert all(label_for(r) == "not_actionable" for r in NOT_ACTIONABLE)
    assert all(label_for(r) == "actionable" for r in ACTIONABLE)
    assert label_for(None) is None and label_for("") is None and label_for("Something New") is None


def test_issue_keys_are_stable_unique_and_well_formed():
    tickets = load_tickets()
    keys = [t.issue_key for t in tickets]
    assert len(set(keys)) == len(keys)
    assert all(re.fullmatch(r"[A-Z][A-Z0-9_]+-[0-9]+", k) for k in keys)
    assert issue_key_for("13404344") == "HADOOP-404344"
    assert keys == sorted(keys, key=lambda k: int(k.split("-")[1]))  # increase with creation, like real keys


def test_reporters_are_a_skewed_pool_of_pseudonyms():
    tickets = load_tickets()
    per_reporter = Counter(t.reporter for t in tickets)
    assert len(per_reporter) <= REPORTER_POOL
    assert all(re.fullmatch(r"reporter-\d{3}", r) for r in per_reporter)
    busiest = sum(n for _, n in per_reporter.most_common(REPORTER_POOL // 10))
    assert busiest / len(tickets) > 0.25  # a few people file many tickets
    assert reporter_for("13404344") == reporter_for("13404344")


def test_created_parses_as_utc():
    assert parse_created("30/Sep/21 17:20") == int(datetime(2021, 9, 30, 17, 20, tzinfo=UTC).timestamp() * 1000)
    with pytest.raises(ValueError, match="unparsable"):
        parse_created("2021-09-30 17:20")


def test_record_is_what_the_issue_created_webhook_carries():
    ticket = next(t for t in load_tickets() if t.issue_id == "13404344")
    record = ticket_record(ticket, event_id="e-1", occurred_at=ticket.created_ms)
    assert record["event_type"] == "jira_ticket_created"
    assert record["entity_id"] == record["issue_key"] == "HADOOP-404344"
    assert record["project_key"] == "HADOOP"
    assert record["issue_type"] == "Bug"
    assert record["priority"] == "Blocker"
    assert record["summary"] == "JAR in conflict with timestamp check causes AM errors"
    assert record["description"].startswith("After an init action pulls down a new JAR")
    assert record["affects_versions"] == ["2.9.2"]
    assert record["components"] == [] and record["labels"] == []
    assert record["status"] == "Open"
    assert record["created"] == record["occurred_at"] == ticket.created_ms
    assert record["webhook_event"] == "jira:issue_created"
    assert record["source"] == "jira"
    assert not {"resolution", "resolved"} & set(record)  # the label never leaks into the event
    assert ticket.label == "urgent"  # a Blocker
    assert label_for(ticket.resolution) == "not_actionable"


def test_missing_fields_in_the_real_data():
    tickets = load_tickets()
    assert sum(t.description is None for t in tickets) == 143  # empty descriptions become null
    assert any(not t.affects_versions for t in tickets)


def test_versions_split_on_commas(tmp_path):
    path = tmp_path / "bugs.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Summary", "Issue id", "Status", "Priority", "Resolution", "Created", "Resolved",
                         "Affects Version/s", "Description"])  # fmt: skip
        writer.writerow(["b", "20", "Open", "Minor", "", "02/Jan/22 10:00", "", "", ""])
        writer.writerow(["a", "10", "Resolved", "Major", "Won't Fix", "01/Jan/22 09:30", "", "3.3.1, 3.4.0 ,", "x"])
    first, second = load_tickets(path)
    assert (first.issue_id, first.affects_versions, first.label) == ("10", ("3.3.1", "3.4.0"), "routine")
    assert (second.affects_versions, second.description, second.resolution) == ((), None, None)


def test_event_ids_are_deterministic():
    assert event_id_for("1", 1000) == event_id_for("1", 1000)
    assert event_id_for("1", 1000) != event_id_for("1", 1000, replay=1)
    assert event_id_for("1", 1000) != event_id_for("2", 1000)


def test_a_single_replay_uses_the_real_times_and_canonical_ids():
    tickets = load_tickets()
    replay = JiraReplay(tickets, len(tickets))
    out = [replay.next() for _ in range(len(tickets))]
    assert [t for t, _, _ in out] == list(tickets)
    assert all(at == t.created_ms for t, at, _ in out)
    assert all(eid == event_id_for(t.issue_id, t.created_ms) for t, _, eid in out)


@pytest.mark.parametrize("cycles", [2, 3, 12])
def test_wrapped_replays_keep_time_increasing_and_ids_unique(cycles):
    tickets = load_tickets()
    total = cycles * len(tickets) - 7
    replay = JiraReplay(tickets, total)
    out = [replay.next() for _ in range(total)]
    times = [at for _, at, _ in out]
    assert times == sorted(times)
    assert times[0] >= _EARLIEST_VALID_MS
    assert len({eid for _, _, eid in out}) == total
    if cycles <= 3:  # no squeezing needed: the last cycle carries the real creation times
        last = out[(cycles - 1) * len(tickets) :]
        assert all(at == t.created_ms for t, at, _ in last)
