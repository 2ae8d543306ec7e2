"""Rule overrides: the condition language, first match wins, and errors that name rule and field."""

from __future__ import annotations

from typing import Any

import pytest

from processor.config import PipelinesConfig
from processor.decide.rules import compile_rules, first_match
from processor.decide.thresholds import DecisionMaker
from processor.errors import ConfigError

FIELDS = {"country", "plan", "device_type", "age_years", "email", "nested"}
FEATURES = {"signups_same_ip_1h", "email_local_digits"}
RECORD: dict[str, Any] = {
    "country": "DE",
    "plan": "pro",
    "device_type": "bot",
    "age_years": None,
    "email": "x1@example.com",
    "nested": {"a": {"b": 3}},
}
FEATURE_VALUES: dict[str, float | None] = {"signups_same_ip_1h": 4.0, "email_local_digits": None}


def _matches(when: dict[str, Any]) -> bool:
    rules = compile_rules("t", [{"id": "r", "when": when, "action": "review"}], FIELDS, FEATURES)
    return first_match(rules, RECORD, FEATURE_VALUES) is not None


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        ({"field": "country", "eq": "DE"}, True),
        ({"field": "country", "ne": "DE"}, False),
        ({"field": "country", "in": ["FR", "DE"]}, True),
        ({"field": "country", "not_in": ["FR", "DE"]}, False),
        ({"feature": "signups_same_ip_1h", "gt": 3}, True),
        ({"feature": "signups_same_ip_1h", "gte": 4}, True),
        ({"feature": "signups_same_ip_1h", "lt": 4}, False),
        ({"feature": "signups_same_ip_1h", "lte": 4}, True),
        ({"field": "email", "matches": r"[a-z]+[0-9]+@example\.com"}, True),
        ({"field": "email", "matches": r"example"}, False),  # full match, not search
        ({"field": "age_years", "missing": True}, True),  # null counts as missing
        ({"field": "country", "missing": True}, False),
        ({"feature": "email_local_digits", "missing": True}, True),
        ({"feature": "email_local_digits", "gt": 0}, False),  # a missing value never compares
        ({"field": "age_years", "ne": 30}, False),  # nor differs
        ({"field": "nested.a.b", "eq": 3}, True),
        ({"all": [{"field": "device_type", "eq": "bot"}, {"feature": "signups_same_ip_1h", "gte": 3}]}, True),
        ({"all": [{"field": "device_type", "eq": "bot"}, {"field": "plan", "eq": "free"}]}, False),
        ({"any": [{"field": "plan", "eq": "free"}, {"field": "country", "eq": "DE"}]}, True),
        ({"not": {"field": "country", "eq": "DE"}}, False),
    ],
)
def test_condition_language(when: dict[str, Any], expected: bool) -> None:
    assert _matches(when) is expected


def test_first_match_wins_in_written_order() -> None:
    rules = compile_rules(
        "t",
        [
            {"id": "first", "when": {"field": "plan", "eq": "pro"}, "action": "review"},
            {"id": "second", "when": {"field": "country", "eq": "DE"}, "action": "block"},
        ],
        FIELDS,
        FEATURES,
    )
    rule = first_match(rules, RECORD, FEATURE_VALUES)
    assert rule is not None and rule.id == "first"


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"when": {"field": "country", "eq": "DE"}, "action": "block"}, "rules[0]: every rule needs"),
        ({"id": "x", "when": {"field": "nope", "eq": 1}, "action": "block"}, "(id x).when: field 'nope'"),
        ({"id": "x", "when": {"feature": "nope", "gt": 1}, "action": "block"}, "feature 'nope'"),
        ({"id": "x", "when": {"field": "country", "like": "D%"}, "action": "block"}, "one operator of"),
        ({"id": "x", "when": {"field": "country", "eq": "DE"}, "action": "explode"}, "action must be one of"),
        ({"id": "x", "when": {"field": "age_years", "gt": "ten"}, "action": "block"}, "gt takes a number"),
        ({"id": "x", "when": {"field": "email", "matches": "("}, "action": "block"}, "pattern does not compile"),
        ({"id": "x", "when": {"all": []}, "action": "block"}, "'all' takes a non-empty list"),
        ({"id": "x", "when": {"field": "country", "in": "DE"}, "action": "block"}, "in takes a list"),
        ({"id": "x", "when": {"field": "plan", "eq": "pro"}, "action": "categorize"}, "needs a category"),
        ({"id": "x", "action": "block"}, "missing 'when'"),
        ({"id": "x", "when": {"field": "plan", "eq": "pro"}, "action": "block", "then": 1}, "unknown key"),
    ],
)
def test_invalid_rules_fail_naming_the_rule_and_field(rule: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        compile_rules("user_signed_up", [rule], FIELDS, FEATURES)
    assert "event_types.user_signed_up.rules[0]" in str(info.value)
    assert message in str(info.value)


def test_duplicate_ids_are_refused() -> None:
    rule = {"id": "x", "when": {"field": "plan", "eq": "pro"}, "action": "block"}
    with pytest.raises(ConfigError, match="duplicate rule id"):
        compile_rules("t", [rule, rule], FIELDS, FEATURES)


def _decider(pipelines: PipelinesConfig, action: str, category: str | None = None) -> DecisionMaker:
    rule: dict[str, Any] = {"id": "r1", "when": {"field": "country", "eq": "DE"}, "action": action}
    if category:
        rule["category"] = category
    return DecisionMaker(pipelines, {"user_signed_up": compile_rules("user_signed_up", [rule], FIELDS, FEATURES)})


def test_a_rule_overrides_the_model_and_is_recorded(pipelines: PipelinesConfig) -> None:
    model = DecisionMaker(pipelines).decide("user_signed_up", 0.05, "v1", None)
    assert (model.decision, model.route) == ("approve", "scored")
    blocked = _decider(pipelines, "block", "sanctioned").apply_rules("user_signed_up", model, RECORD, FEATURE_VALUES)
    assert (blocked.decision, blocked.category, blocked.decision_source, blocked.rule_ids) == (
        "block",
        "sanctioned",
        "rule",
        ("r1",),
    )
    assert blocked.score == 0.05 and blocked.model_version == "v1"  # what the model said stays visible


def test_review_and_categorize_actions(pipelines: PipelinesConfig) -> None:
    model = DecisionMaker(pipelines).decide("user_signed_up", 0.9, "v1", None)
    review = _decider(pipelines, "review").apply_rules("user_signed_up", model, RECORD, FEATURE_VALUES)
    assert (review.route, review.review_reason, review.decision) == ("review", "rule:r1", "block")
    tagged = _decider(pipelines, "categorize", "vip").apply_rules("user_signed_up", model, RECORD, FEATURE_VALUES)
    assert (tagged.route, tagged.category, tagged.decision_source, tagged.rule_ids) == (
        "scored",
        "vip",
        "model",
        ("r1",),
    )


def test_no_match_leaves_the_decision_alone(pipelines: PipelinesConfig) -> None:
    model = DecisionMaker(pipelines).decide("user_signed_up", 0.05, "v1", None)
    assert _decider(pipelines, "block").apply_rules("user_signed_up", model, {"country": "FR"}, {}) is model
