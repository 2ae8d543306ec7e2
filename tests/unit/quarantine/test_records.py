from __future__ import annotations

import pytest

from processor.errors import ConfigError
from processor.quarantine.records import QuarantinedRecord, QuarantineFilter, parse_coordinate, parse_time

NOW = 1_800_000_000_000


def _record(**changes: object) -> QuarantinedRecord:
    values: dict[str, object] = {
        "topic": "events.quarantine",
        "partition": 1,
        "offset": 7,
        "stage": "schema",
        "error_code": "unknown_schema_version",
        "error_message": "user_signed_up has no schema version 3",
        "field": "schema_version",
        "event_type": "user_signed_up",
        "event_id": "e1",
        "key": b"u1",
        "value": b"{}",
        "headers": (),
        "source_topic": "events.raw",
        "source_partition": 0,
        "source_offset": 42,
        "quarantined_at": NOW,
    }
    values.update(changes)
    return QuarantinedRecord(**values)  # type: ignore[arg-type]


def test_times_are_epoch_ms_rfc3339_or_a_duration_ago() -> None:
    assert parse_time("1700000000000") == 1_700_000_000_000
    assert parse_time("2023-11-14T22:13:20Z") == 1_700_000_000_000
    assert parse_time("2h", now_ms=NOW) == NOW - 2 * 3_600_000
    assert parse_time("7d", now_ms=NOW) == NOW - 7 * 86_400_000
    for bad in ("yesterday", "2023-11-14T22:13:20", "5y"):
        with pytest.raises(ConfigError, match="is not a time"):
            parse_time(bad)


def test_every_set_criterion_must_hold() -> None:
    record = _record()
    assert QuarantineFilter().matches(record)
    assert QuarantineFilter().is_empty
    assert QuarantineFilter(stage="schema", error_code="unknown_schema_version", event_type="user_signed_up").matches(
        record
    )
    assert not QuarantineFilter(stage="decode").matches(record)
    assert not QuarantineFilter(error_code="missing_field").matches(record)
    assert not QuarantineFilter(event_type="document_uploaded").matches(record)
    assert QuarantineFilter(since_ms=NOW, until_ms=NOW + 1).matches(record)
    assert not QuarantineFilter(until_ms=NOW).matches(record)  # until is exclusive
    assert not QuarantineFilter(since_ms=NOW + 1).matches(record)


def test_a_record_is_named_by_its_place_in_the_quarantine_topic() -> None:
    record = _record()
    assert record.coordinate == "events.quarantine:1:7"
    assert record.source_position == "events.raw:0:42"
    assert parse_coordinate("1:7", "events.quarantine") == ("events.quarantine", 1, 7)
    assert parse_coordinate("q.topic:2:9", "events.quarantine") == ("q.topic", 2, 9)
    with pytest.raises(ConfigError, match="is not a quarantine record"):
        parse_coordinate("seven", "events.quarantine")
