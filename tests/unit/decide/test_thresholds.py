"""DecisionMaker: bands, the review band [low, high), confidence, and the fallback policy."""

from __future__ import annotations

import pytest

from processor.config import PipelinesConfig
from processor.decide.thresholds import DecisionMaker


@pytest.fixture
def maker(pipelines: PipelinesConfig) -> DecisionMaker:
    return DecisionMaker(pipelines)


def policy(bands, review=None, fallback=None) -> PipelinesConfig:
    decision = {"bands": bands}
    if review is not None:
        decision["review_band"] = review
    if fallback is not None:
        decision["fallback"] = fallback
    return PipelinesConfig.model_validate({"event_types": {"t": {"decision": decision}}})


def test_real_policy_assumed_below(pipelines):
    d = pipelines.event_types["user_signed_up"].decision
    assert [(b.min_score, b.decision) for b in d.sorted_bands()] == [(0.70, "block"), (0.0, "approve")]
    assert d.review_band is not None and (d.review_band.low, d.review_band.high) == (0.40, 0.70)


@pytest.mark.parametrize(
    ("score", "decision", "category", "route"),
    [
        (0.0, "approve", "legitimate", "scored"),
        (0.39999, "approve", "legitimate", "scored"),
        (0.40, "approve", "legitimate", "review"),  # review band low is inclusive
        (0.55, "approve", "legitimate", "review"),
        (0.69999, "approve", "legitimate", "review"),
        (0.70, "block", "suspected_fraud", "scored"),  # review band high is exclusive; band min inclusive
        (0.95, "block", "suspected_fraud", "scored"),
        (1.0, "block", "suspected_fraud", "scored"),
    ],
)
def test_user_signed_up_bands(maker, score, decision, category, route):
    d = maker.decide("user_signed_up", score, "v7", None)
    assert (d.decision, d.category, d.route) == (decision, category, route)
    assert d.score == score
    assert d.decision_source == "model"
    assert d.model_version == "v7"
    assert d.rule_ids == ()
    assert d.review_reason == ("confidence_band" if route == "review" else None)
    assert d.reason


@pytest.mark.parametrize("score", [0.0, 0.1, 0.3, 0.5, 0.77, 1.0])
def test_confidence_is_the_probability_of_the_decided_class(maker, score):
    d = maker.decide("document_uploaded", score, "v1", None)
    assert d.confidence == pytest.approx(max(score, 1 - score))
    assert 0.5 <= d.confidence <= 1.0


@pytest.mark.parametrize(
    ("event_type", "score", "decision", "route"),
    [
        ("jira_ticket_created", 0.09, "accept", "scored"),
        ("jira_ticket_created", 0.10, "accept", "review"),
        ("jira_ticket_created", 0.15, "escalate", "scored"),
        ("document_uploaded", 0.34, "accept", "scored"),
        ("document_uploaded", 0.35, "accept", "review"),
        ("document_uploaded", 0.59, "accept", "review"),
        ("document_uploaded", 0.60, "reject", "scored"),
    ],
)
def test_other_types(maker, event_type, score, decision, route):
    d = maker.decide(event_type, score, "v1", None)
    assert (d.decision, d.route) == (decision, route)


@pytest.mark.parametrize(
    ("event_type", "decision", "category", "route"),
    [
        ("user_signed_up", "review", "unscored", "review"),
        ("jira_ticket_created", "accept", "unscored", "scored"),
        ("document_uploaded", "review", "unscored", "review"),
    ],
)
def test_fallback_uses_the_type_policy(maker, event_type, decision, category, route):
    d = maker.decide(event_type, None, None, "model_error")
    assert (d.decision, d.category, d.route) == (decision, category, route)
    assert d.decision_source == "fallback"
    assert d.score is None and d.confidence is None
    assert d.model_version is None
    assert d.reason == "fallback: model_error"
    assert d.review_reason == ("fallback:model_error" if route == "review" else None)


def test_fallback_without_a_failure_reason_means_no_model(maker):
    d = maker.decide("user_signed_up", None, "v3", None)
    assert d.reason == "fallback: no_model"
    assert d.model_version == "v3"


def test_three_bands_unsorted_in_config_and_no_review_band():
    maker = DecisionMaker(
        policy(
            [
                {"min_score": 0.0, "decision": "low"},
                {"min_score": 0.8, "decision": "high", "category": "h"},
                {"min_score": 0.5, "decision": "mid"},
            ]
        )
    )
    got = [(s, maker.decide("t", s, None, None).decision) for s in (0.0, 0.49, 0.5, 0.79, 0.8, 1.0)]
    assert got == [(0.0, "low"), (0.49, "low"), (0.5, "mid"), (0.79, "mid"), (0.8, "high"), (1.0, "high")]
    assert all(maker.decide("t", s, None, None).route == "scored" for s in (0.0, 0.5, 0.99))


def test_empty_review_band_sends_nothing_to_review():
    maker = DecisionMaker(policy([{"min_score": 0.0, "decision": "x"}], review={"low": 0.5, "high": 0.5}))
    assert maker.decide("t", 0.5, None, None).route == "scored"


def test_default_fallback_policy():
    maker = DecisionMaker(policy([{"min_score": 0.0, "decision": "x"}]))
    d = maker.decide("t", None, None, "latency_budget")
    assert (d.decision, d.category, d.route) == ("review", "unscored", "review")
    assert d.review_reason == "fallback:latency_budget"


def test_unknown_event_type_raises(maker):
    with pytest.raises(KeyError):
        maker.decide("nope", 0.5, None, None)


def test_features_outside_the_training_range_escalate_a_model_decision(pipelines):
    decider = DecisionMaker(pipelines)
    confident = decider.decide("document_uploaded", 0.02, "v1", None)
    assert confident.route == "scored"
    ranges = {"log_size_bytes": (5.0, 15.0), "page_count": (0.0, 500.0)}
    inside = decider.escalate_out_of_range(confident, {"log_size_bytes": 9.0, "page_count": None}, ranges)
    assert inside is confident
    outside = decider.escalate_out_of_range(confident, {"log_size_bytes": 19.5, "page_count": 2.0}, ranges)
    assert (outside.route, outside.review_reason) == ("review", "feature_out_of_range:log_size_bytes")
    assert outside.decision == confident.decision and outside.decision_source == "model"
    assert "outside training range [5, 15]" in (outside.reason or "")


def test_fallback_decisions_are_not_escalated_by_range(pipelines):
    decider = DecisionMaker(pipelines)
    fallback = decider.decide("jira_ticket_created", None, None, "no_model")
    assert decider.escalate_out_of_range(fallback, {"x": 1e9}, {"x": (0.0, 1.0)}) is fallback


# -- the batch forms give what the single-event forms give ---------------------------------------


@pytest.mark.parametrize("event_type", ["user_signed_up", "jira_ticket_created", "document_uploaded"])
def test_decide_batch_is_decide_of_every_score(pipelines, event_type):
    import numpy as np

    decider = DecisionMaker(pipelines)
    policy = pipelines.event_types[event_type].decision
    edges = [b.min_score for b in policy.bands]
    if policy.review_band is not None:
        edges += [policy.review_band.low, policy.review_band.high]
    scores = sorted({0.0, 1.0, *edges, *(np.nextafter(e, -1.0) for e in edges), *np.linspace(0, 1, 41).tolist()})
    scores = [s for s in scores if 0.0 <= s <= 1.0]
    batch = decider.decide_batch(event_type, np.asarray(scores, dtype=np.float64), "v9")
    assert batch == [decider.decide(event_type, s, "v9", None) for s in scores]


def test_decide_batch_below_every_band_fails_as_decide_does(pipelines):
    import numpy as np

    decider = DecisionMaker(pipelines)  # the lowest band starts at 0.0: only a negative score is below it
    with pytest.raises(StopIteration):
        decider.decide("user_signed_up", -0.1, None, None)
    with pytest.raises(StopIteration):
        decider.decide_batch("user_signed_up", np.array([0.7, -0.1]), None)


def test_escalate_out_of_range_batch_is_the_single_event_form_row_by_row(pipelines):
    import numpy as np

    decider = DecisionMaker(pipelines)
    names = ("a", "b", "c")
    ranges = {"c": (0.0, 1.0), "a": (-1.0, 1.0), "gone": (0.0, 1.0), "b": (float("nan"), 5.0)}
    rng = np.random.default_rng(7)
    matrix = rng.uniform(-2.0, 2.0, size=(200, 3))
    matrix[rng.random((200, 3)) < 0.3] = np.nan
    decisions = [
        decider.decide("document_uploaded", s, "v1", None)
        if s < 0.9
        else decider.decide("user_signed_up", None, None, "no_model")
        for s in rng.random(200)
    ]
    features = [{n: (None if np.isnan(v) else float(v)) for n, v in zip(names, row, strict=True)} for row in matrix]
    expected = [decider.escalate_out_of_range(d, f, ranges) for d, f in zip(decisions, features, strict=True)]
    assert decider.escalate_out_of_range_batch(decisions, matrix, names, ranges) == expected
    assert any(e.review_reason and e.review_reason.startswith("feature_out_of_range") for e in expected)
