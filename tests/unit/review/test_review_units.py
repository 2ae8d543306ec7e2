"""Review app pieces that need nothing running: parsing, choices, records against the Avro contract,
passwords, CSRF, throttling, and how hostile text is shown."""

from __future__ import annotations

from typing import Any

import fastavro
import orjson
import pytest
from markupsafe import Markup

from processor.config import PipelinesConfig, ReviewSettings, Settings
from processor.review.items import Choices, Position, ReviewRecordError, parse_review_record, priority_of
from processor.review.passwords import hash_password, is_password_hash, verify_password
from processor.review.records import decision_outputs, feedback_record, scored_record
from processor.review.render import environment, reveal
from processor.review.security import csrf_token, csrf_valid, same_origin
from processor.review.terminal import safe_text
from processor.serializers.outputs import OutputEncoder
from processor.serializers.schemas import SchemaStore


def _review_record(**fields: Any) -> dict[str, Any]:
    record = {
        "event_id": "e-1",
        "event_type": "user_signed_up",
        "entity_id": "user-1",
        "occurred_at": 1_717_200_000_000,
        "processed_at": 1_717_200_060_000,
        "decision": "approve",
        "category": "legitimate",
        "score": 0.55,
        "confidence": 0.55,
        "decision_source": "model",
        "rule_ids": [],
        "model_version": "v1",
        "late": False,
        "reason": "score 0.550 in review band",
        "review_reason": "confidence_band",
        "features": {"age_years": 34.0, "email_verified": None},
        "event": orjson.dumps({"event_id": "e-1", "plan": "pro"}).decode(),
    }
    record.update(fields)
    return record


def test_review_record_round_trips_through_the_store_format() -> None:
    item = parse_review_record(orjson.dumps(_review_record()), Position("events.review", 2, 17))
    assert item.score == 0.55 and item.features == {"age_years": 34.0, "email_verified": None}
    assert type(item).from_json(item.to_json()) == item
    assert item.event_fields() == {"event_id": "e-1", "plan": "pro"}


@pytest.mark.parametrize(
    ("value", "code"),
    [
        (None, "tombstone"),
        (b"{not json", "invalid_json"),
        (b"[1]", "not_an_object"),
        (orjson.dumps(_review_record(review_reason=None)), "missing_field"),
        (orjson.dumps(_review_record(occurred_at="yesterday")), "bad_field"),
        (orjson.dumps(_review_record(score="high")), "bad_field"),
        (orjson.dumps(_review_record(event_id="x" * 10_000)), "bad_field"),
        (orjson.dumps(_review_record(features=[1, 2])), "bad_field"),
    ],
)
def test_bad_review_records_are_rejected_with_a_reason(value: bytes | None, code: str) -> None:
    with pytest.raises(ReviewRecordError) as err:
        parse_review_record(value)
    assert err.value.code == code


def test_choices_come_from_the_bands_with_training_labels(pipelines: PipelinesConfig) -> None:
    choices = Choices.build(pipelines, ReviewSettings())
    signup = {c.decision: c.label for c in choices.for_type("user_signed_up")}
    assert signup == {"block": "fraud", "approve": "legit"}
    # the positive label is what training learns: the top band's decision carries it
    for name, config in pipelines.event_types.items():
        top = config.decision.sorted_bands()[0].decision
        assert choices.find(name, top).label == config.positive_label  # type: ignore[union-attr]
    derived = Choices.build(pipelines, ReviewSettings(labels={}))
    assert {c.label for c in derived.for_type("user_signed_up")} == {"fraud", "not_fraud"}
    assert [c.decision for c in choices.for_type("never_configured")] == ["block", "approve"]


def test_priority_by_reason_kind_then_default() -> None:
    settings = ReviewSettings()
    assert priority_of("rule:sanctioned-country", settings) == 0
    assert priority_of("confidence_band", settings) == 4
    assert priority_of("feature_out_of_range:size", settings) == 2
    assert priority_of("something_new", settings) == settings.default_priority


def test_decision_records_follow_the_output_schemas(pipelines: PipelinesConfig, settings: Settings) -> None:
    schemas = SchemaStore(settings.schemas_dir).outputs
    item = parse_review_record(orjson.dumps(_review_record()), Position("events.review", 0, 5))
    choice = Choices.build(pipelines, settings.review).find("user_signed_up", "block")
    assert choice is not None
    feedback = feedback_record(item, choice, "alice", 1_717_300_000_000, "ring <b>")
    scored = scored_record(item, choice, "alice", 1_717_300_000_000)
    fastavro.validation.validate(feedback, schemas["feedback"], raise_errors=True)
    fastavro.validation.validate(scored, schemas["scored"], raise_errors=True)
    assert (feedback["label"], scored["decision"], scored["decision_source"]) == ("fraud", "block", "human")
    assert scored["score"] == 0.55 and scored["model_version"] == "v1"  # the model's view, kept for comparison
    fb, sc = decision_outputs(
        settings.topics, OutputEncoder(SchemaStore(settings.schemas_dir)), item, choice, "alice", 1, None
    )
    assert (fb.topic, sc.topic) == (settings.topics.feedback, settings.topics.scored)
    headers = dict(fb.headers)
    assert headers["decision-source"] == b"human" and headers["review-offset"] == b"5"
    assert "source-offset" not in headers  # source-* name raw inputs; the audit counts those


def test_passwords_hash_and_verify() -> None:
    stored = hash_password("correct horse")
    assert is_password_hash(stored) and "correct horse" not in stored
    assert verify_password("correct horse", stored)
    assert not verify_password("correct hors", stored)
    assert not verify_password("anything", "plaintext-password")
    assert not verify_password("x", "scrypt$3$8$1$AAAA$AAAA")  # parameters out of range
    assert hash_password("same") != hash_password("same")  # salted
    with pytest.raises(ValueError):
        hash_password("")


def test_csrf_tokens_and_origin() -> None:
    session: dict[str, Any] = {}
    token = csrf_token(session)
    assert csrf_token(session) == token and len(token) >= 40
    assert csrf_valid(session, token)
    assert not csrf_valid(session, token[:-1] + "x")
    assert not csrf_valid(session, None)
    assert not csrf_valid({}, token)
    assert same_origin({}, "http", "review:8081")
    assert same_origin({"origin": "http://review:8081"}, "http", "review:8081")
    assert not same_origin({"origin": "http://evil.example"}, "http", "review:8081")
    assert not same_origin({"origin": "null"}, "http", "review:8081")


def test_reveal_escapes_markup_and_shows_invisible_characters() -> None:
    shown = reveal("<script>alert(1)</script> a\u202eb c\u200bd e\x1b[31m f\u2028g")
    assert isinstance(shown, Markup)
    assert "<script>" not in shown and "&lt;script&gt;alert(1)&lt;/script&gt;" in shown
    for code in ("U+202E", "U+200B", "U+001B", "U+2028"):
        assert code in shown
    assert "\u202e" not in shown and "\x1b" not in shown
    assert 'title="RIGHT-TO-LEFT OVERRIDE"' in shown


def test_reveal_folds_huge_values_and_combining_floods() -> None:
    shown = reveal("A" * 100_000, limit=1_000)
    assert shown.count("A") == 1_000 and "99,000 more characters not shown" in shown
    zalgo = reveal("Z" + "\u0336" * 500)
    assert zalgo.count("\u0336") == 3 and "+marks" in zalgo
    assert "line\n\ttab" in reveal("line\n\ttab")  # ordinary whitespace stays


def test_templates_autoescape_everything() -> None:
    env = environment()
    assert env.from_string("{{ x }}").render(x="<b>&") == "&lt;b&gt;&amp;"
    assert env.get_template("missing.html").render(event_id="<img src=x onerror=1>").count("<img") == 0


def test_terminal_text_has_no_escape_sequences() -> None:
    text = safe_text("ok\x1b[2J\u202eevil" + "x" * 1000, limit=50)
    assert "\x1b" not in text and "\u202e" not in text
    assert "<U+001B>" in text and "<U+202E>" in text and "more characters" in text


def test_review_settings_defaults_and_env(clean_env: pytest.MonkeyPatch) -> None:
    from processor.config import load_settings

    stored = hash_password("pw-123456")
    clean_env.setenv("PROCESSOR_REVIEW__REVIEWERS", orjson.dumps({"alice": stored}).decode())
    clean_env.setenv("PROCESSOR_REVIEW__SLA_SECONDS", "900")
    settings = load_settings()
    assert settings.review.port == 8081
    assert settings.review.sla_seconds == 900
    assert settings.review.reviewers["alice"].get_secret_value() == stored
    assert "pw-123456" not in repr(settings) and stored not in repr(settings)


def test_the_item_page_says_which_gateway_client_sent_it() -> None:
    item = parse_review_record(orjson.dumps(_review_record()), headers={"ingest-client": b"<crm>"})
    page = (
        environment()
        .get_template("item.html")
        .render(
            item=item,
            done=None,
            holder=None,
            choices=(),
            outcome=None,
            enqueued_at=None,
            now_ms=0,
            sla_ms=1,
            display_chars=100,
            max_note_chars=10,
            csrf="t",
            csrf_field="csrf_token",
            reviewer="alice",
            request=None,
        )
    )
    assert "gateway client <strong>&lt;crm&gt;</strong>" in page
    direct = parse_review_record(orjson.dumps(_review_record()))
    assert direct.client is None
