"""Structured logs: one JSON object per line with the fields an operator searches by; payloads and
secrets never in them."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import SecretStr

from processor import cli
from processor.config import PipelinesConfig, Settings, load_settings
from processor.logs import (
    MASK,
    WITHHELD,
    JsonFormatter,
    RateLimitFilter,
    TextFormatter,
    configure_logging,
    log_quarantined,
    masked_settings,
)
from processor.serializers.schemas import SchemaStore
from processor.stages.decode import Decoder
from processor.stages.validate import Validator

MARKER = "PAYLOAD-MARKER-7f3a9c"
SECRET = "hunter2-very-secret-9d1e"


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """The root logger writing JSON lines into a buffer (restored afterwards)."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    stream = io.StringIO()
    configure_logging("DEBUG", "json", stream)
    yield stream
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])


def _lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def _record(msg: str = "hello %s", args: tuple[Any, ...] = ("world",), **extra: Any) -> logging.LogRecord:
    record = logging.LogRecord("processor.test", logging.WARNING, __file__, 1, msg, args, None)
    for key, value in extra.items():
        setattr(record, key, value)
    return record


def test_json_lines_carry_the_standard_and_the_structured_fields() -> None:
    line = JsonFormatter().format(
        _record(event_id="ev-1", topic="events.raw", partition=3, offset=1042, model_version="20250101-abc")
    )
    entry = json.loads(line)
    assert "\n" not in line
    assert entry["level"] == "WARNING"
    assert entry["logger"] == "processor.test"
    assert entry["message"] == "hello world"
    assert entry["ts"].endswith("Z") and entry["ts"][10] == "T"
    assert entry["event_id"] == "ev-1"
    assert (entry["topic"], entry["partition"], entry["offset"]) == ("events.raw", 3, 1042)
    assert entry["model_version"] == "20250101-abc"


def test_exceptions_are_one_json_field_not_extra_lines() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        import sys

        record = logging.LogRecord("processor", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    entry = json.loads(JsonFormatter().format(record))
    assert "ValueError: boom" in entry["exception"]


def test_payload_fields_bytes_and_secrets_are_never_formatted() -> None:
    record = _record(
        value=MARKER.encode(),
        payload={"email": MARKER},
        headers=[("h", MARKER.encode())],
        key_bytes=MARKER.encode(),
        password=SecretStr(SECRET),
        extra_conf={"sasl.password": SECRET, "nested": {"api_token": SECRET}},
        note=SecretStr(SECRET),
    )
    for formatter in (JsonFormatter(), TextFormatter()):
        out = formatter.format(record)
        assert MARKER not in out and SECRET not in out, out
    entry = json.loads(JsonFormatter().format(record))
    assert entry["value"] == WITHHELD and entry["payload"] == WITHHELD and entry["headers"] == WITHHELD
    assert entry["key_bytes"] == f"<{len(MARKER)} bytes>"
    assert entry["password"] == MASK and entry["note"] == MASK
    assert entry["extra_conf"] == {"sasl.password": MASK, "nested": {"api_token": MASK}}


def test_text_lines_append_the_structured_fields() -> None:
    out = TextFormatter().format(_record(event_id="ev 1", offset=7))
    assert out.endswith('hello world [event_id="ev 1" offset=7]')


def test_a_quarantine_is_logged_with_its_position_and_never_its_payload(
    captured: io.StringIO,
    schema_store: SchemaStore,
    pipelines: PipelinesConfig,
    settings: Settings,
    jira: dict[str, Any],
    raw_factory: Any,
) -> None:
    # a strict type with a wrong-typed field, and a marker in another field of the same record
    jira["summary"] = f"{MARKER} customer data"
    jira["priority"] = 42
    raw = raw_factory(jira, offset=1042, partition=2)
    events, rejected = Decoder(schema_store, pipelines, settings.processing).decode_batch([raw])
    assert not rejected
    _, bad = Validator(schema_store, pipelines, settings.processing).validate_batch(events, jira["occurred_at"])
    assert len(bad) == 1
    log_quarantined(logging.getLogger("processor.pipeline"), bad[0])
    [entry] = _lines(captured)
    assert entry["message"] == "quarantined schema/wrong_type"
    assert entry["event_id"] == "jira-1" and entry["event_type"] == "jira_ticket_created"
    assert (entry["topic"], entry["partition"], entry["offset"]) == ("events.raw", 2, 1042)
    assert (entry["stage"], entry["error_code"], entry["field"]) == ("schema", "wrong_type", "priority")
    assert "rate_limit_key" not in entry
    assert MARKER not in captured.getvalue()


def test_an_undecodable_input_is_logged_without_its_bytes(
    captured: io.StringIO, schema_store: SchemaStore, pipelines: PipelinesConfig, settings: Settings, raw_factory: Any
) -> None:
    raw = raw_factory(b'{"event_id": "' + MARKER.encode() + b'", \xff\xfe broken', offset=9)
    _, rejected = Decoder(schema_store, pipelines, settings.processing).decode_batch([raw])
    log_quarantined(logging.getLogger("processor.pipeline"), rejected[0])
    [entry] = _lines(captured)
    assert entry["stage"] == "decode" and entry["offset"] == 9
    assert MARKER not in captured.getvalue()


def test_a_flood_of_one_reason_is_rate_limited_and_the_suppressed_count_reported() -> None:
    now = [0.0]
    limiter = RateLimitFilter(burst=3, window_s=60, clock=lambda: now[0])
    passed = [limiter.filter(_record(rate_limit_key="quarantine:decode:invalid_json")) for _ in range(10)]
    assert passed == [True] * 3 + [False] * 7
    assert limiter.filter(_record(rate_limit_key="quarantine:schema:missing_field"))  # another key: its own budget
    assert limiter.filter(_record())  # no key: never limited
    now[0] = 61.0
    record = _record(rate_limit_key="quarantine:decode:invalid_json")
    assert limiter.filter(record)
    assert record.suppressed == 7


def test_the_settings_logged_at_start_up_mask_every_secret(
    captured: io.StringIO, clean_env: pytest.MonkeyPatch
) -> None:
    settings = load_settings(
        redis={"password": SECRET},
        review={"session_secret": SECRET, "reviewers": {"alice": f"scrypt$16384$8$1${SECRET}"}},
        kafka={
            "security_protocol": "SASL_SSL",
            "sasl_mechanism": "SCRAM-SHA-512",
            "sasl_username": "svc",
            "sasl_password": SECRET,
            "extra": {"sasl.oauthbearer.client.secret": SECRET},
        },
        ingest={"jira_webhook_secret": SECRET},
    )
    logging.getLogger("processor").info("starting", extra={"settings": masked_settings(settings)})
    text = captured.getvalue()
    assert SECRET not in text
    logged = _lines(captured)[0]["settings"]
    assert logged["redis"]["password"] == MASK
    assert logged["review"]["reviewers"] == {"alice": MASK}
    assert logged["kafka"]["sasl_username"] == "svc"  # not secret: still there to debug with
    assert logged["redis"]["key_prefix"] == "proc:"
    # every topic name is shown: topics.raw is a name, not a payload (the scrubber once hid it)
    assert logged["topics"]["raw"] == "events.raw"
    assert logged["topics"]["quarantine"] == "events.quarantine"


def test_processor_run_logs_its_settings_masked_in_json(
    clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real ``processor run`` entry point, stopped right after its start-up line."""
    clean_env.setenv("PROCESSOR_REDIS__PASSWORD", SECRET)
    clean_env.setenv("PROCESSOR_REVIEW__SESSION_SECRET", SECRET)

    class _Stop(Exception):
        pass

    def refuse(*_: Any, **__: Any) -> None:
        raise _Stop

    monkeypatch.setattr("processor.app.Processor.__init__", refuse)
    root = logging.getLogger()
    saved = list(root.handlers)
    try:
        with pytest.raises(_Stop):
            cli.main(["run"])
        err = capsys.readouterr().err
    finally:
        root.handlers[:] = saved
    assert SECRET not in err
    entry = json.loads(err.splitlines()[0])  # `run` is a service: JSON by default
    assert entry["message"].startswith("starting processor")
    assert entry["settings"]["redis"]["password"] == MASK


@pytest.mark.parametrize(
    ("argv", "fmt"),
    [
        (["run"], JsonFormatter),
        (["ingest", "serve"], JsonFormatter),
        (["review", "serve"], JsonFormatter),
        (["killswitch", "status"], TextFormatter),
        (["--log-format", "json", "killswitch", "status"], JsonFormatter),
        (["--log-format", "text", "run"], TextFormatter),
    ],
)
def test_services_log_json_and_interactive_commands_text(
    argv: list[str], fmt: type, clean_env: pytest.MonkeyPatch
) -> None:
    root = logging.getLogger()
    saved = list(root.handlers)
    try:
        cli._configure_logging(cli.build_parser().parse_args(argv))
        assert isinstance(root.handlers[0].formatter, fmt)
    finally:
        root.handlers[:] = saved


def test_the_log_format_setting_overrides_auto(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("PROCESSOR_LOG_FORMAT", "text")
    root = logging.getLogger()
    saved = list(root.handlers)
    try:
        cli._configure_logging(cli.build_parser().parse_args(["run"]))
        assert isinstance(root.handlers[0].formatter, TextFormatter)
    finally:
        root.handlers[:] = saved
