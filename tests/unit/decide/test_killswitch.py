"""The kill switch: values an operator may type, precedence, and what holds when Redis is away."""

from __future__ import annotations

from typing import Any

import pytest
import redis

from processor.config import PipelinesConfig
from processor.decide.killswitch import KillSwitch, SwitchState, parse_state
from processor.decide.thresholds import DecisionMaker
from processor.state.keys import Keys

KEYS = Keys("t:")
TYPES = ["user_signed_up", "document_uploaded"]


class _FakeRedis:
    def __init__(self) -> None:
        self.values: dict[str, bytes] = {}
        self.down = False

    def mget(self, names: list[str]) -> list[Any]:
        if self.down:
            raise redis.ConnectionError("connection refused")
        return [self.values.get(n) for n in names]


@pytest.mark.parametrize(
    ("raw", "mode", "reason"),
    [
        (b"fallback", "fallback", "set directly in Redis"),
        (b"REVIEW\n", "review", "set directly in Redis"),
        (b"off", "off", "set directly in Redis"),
        (b'{"mode":"review","reason":"drift","since":"2026-01-01T00:00:00+00:00","by":"ana"}', "review", "drift"),
        (b"fallbak", "fallback", "unknown mode 'fallbak'; treated as fallback"),
        (b"{not json", "fallback", "unreadable kill-switch value '{not json'"),
    ],
)
def test_values_an_operator_may_type(raw: bytes, mode: str, reason: str) -> None:
    state = parse_state(raw, "global")
    assert state is not None and state.mode == mode and state.reason == reason


def test_absent_key_means_no_state() -> None:
    assert parse_state(None, "global") is None


def _switch(client: _FakeRedis, default: str = "off") -> KillSwitch:
    return KillSwitch(client, KEYS, TYPES, default=default, poll_interval_s=0.0)  # type: ignore[arg-type]


def test_a_type_switch_wins_over_the_global_one_and_affects_only_its_type() -> None:
    client = _FakeRedis()
    switch = _switch(client)
    client.values[KEYS.killswitch("document_uploaded")] = b"review"
    assert switch.refresh()
    assert switch.state_for("document_uploaded").mode == "review"
    assert switch.state_for("user_signed_up").mode == "off"
    client.values[KEYS.killswitch("global")] = b"fallback"
    switch.refresh()
    assert switch.state_for("user_signed_up").mode == "fallback"
    assert switch.state_for("document_uploaded").mode == "review"


def test_redis_down_keeps_the_last_known_state() -> None:
    client = _FakeRedis()
    switch = _switch(client)
    client.values[KEYS.killswitch("global")] = b"fallback"
    switch.refresh()
    client.down = True
    assert not switch.refresh()
    assert not switch.reachable
    assert switch.state_for("user_signed_up").mode == "fallback"


def test_the_configured_default_applies_until_redis_is_read() -> None:
    client = _FakeRedis()
    client.down = True
    switch = _switch(client, default="review")
    switch.refresh()
    assert switch.state_for("user_signed_up").mode == "review"
    client.down = False
    switch.refresh()  # Redis says nothing is engaged
    assert switch.state_for("user_signed_up").mode == "off"


def test_polling_is_rate_limited() -> None:
    client = _FakeRedis()
    switch = KillSwitch(client, KEYS, TYPES, poll_interval_s=60.0)  # type: ignore[arg-type]
    switch.refresh()
    client.values[KEYS.killswitch("global")] = b"fallback"
    assert not switch.refresh()
    assert switch.refresh(force=True)


@pytest.mark.parametrize(("mode", "route"), [("fallback", "review"), ("review", "review")])
def test_switched_off_decisions_name_the_switch(pipelines: PipelinesConfig, mode: str, route: str) -> None:
    decider = DecisionMaker(pipelines)
    decision = decider.switched_off("user_signed_up", SwitchState(mode, "incident 42", scope="global"))  # type: ignore[arg-type]
    assert decision.decision_source == "fallback"
    assert decision.score is None and decision.model_version is None
    assert decision.route == route
    assert "incident 42" in (decision.reason or "")


def test_fallback_mode_follows_the_types_fallback_route(pipelines: PipelinesConfig) -> None:
    decider = DecisionMaker(pipelines)
    # jira_ticket_created's fallback routes to scored; review mode overrides it to review
    assert decider.switched_off("jira_ticket_created", SwitchState("fallback", "x")).route == "scored"
    review = decider.switched_off("jira_ticket_created", SwitchState("review", "x"))
    assert (review.route, review.review_reason) == ("review", "kill_switch")


def test_since_is_exported_as_epoch_seconds() -> None:
    assert SwitchState("fallback", "x", "2026-01-01T00:00:00+00:00").since_epoch() == 1767225600.0
    assert SwitchState("fallback", "x", None).since_epoch() == 0.0
    assert SwitchState("fallback", "x", "yesterday").since_epoch() == 0.0
