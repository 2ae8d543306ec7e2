"""A reviewer in a real headless browser (Debian's chromium, driven by Playwright) works items the
real pipeline escalated, and the decision lands exactly once on events.feedback and events.scored."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import fastavro
import orjson

from helpers.review import human_decisions, jira, new_run, outputs_for, run_pipeline, sign_in, signup
from processor.audit import audit
from processor.config import Settings
from processor.serializers.schemas import SchemaStore


def _row(page: Any, event_id: str) -> Any:
    return page.locator(f"tr[data-event-id={json.dumps(event_id)}]")  # a CSS string, quotes escaped


def test_reviewer_signs_in_decides_an_item_and_the_records_land_once(
    review_settings_factory: Callable[..., Settings],
    processor_factory: Callable[..., Any],
    trained_models: Path,
    review_server: Callable[[Settings], str],
    browser: Any,
    page: Any,
    artifacts_dir: Path,
    tmp_path: Path,
) -> None:
    settings = review_settings_factory(models_dir=trained_models)
    run = new_run()
    records = [signup(run, 1), signup(run, 2), signup(run, 3, plan="pro")]
    run_pipeline(settings, records, processor_factory, tmp_path / "processor.log")
    target = records[0]["event_id"]
    escalated = outputs_for(settings, settings.topics.review, target)
    assert len(escalated) == 1 and escalated[0]["review_reason"] == "rule:enterprise-manual-check"
    url = review_server(settings)

    # a second reviewer opens the same item before alice decides it (a stale form, later)
    bob = browser.new_context()
    bob_page = bob.new_page()
    sign_in(bob_page, url, "bob")

    sign_in(page, url, "alice")
    assert _row(page, target).count() == 1
    screenshot = artifacts_dir / "review-queue.png"
    page.screenshot(path=str(screenshot), full_page=True)
    print(f"queue screenshot: {screenshot}")
    assert screenshot.stat().st_size > 10_000

    _row(page, target).locator("a").click()
    assert "rule:enterprise-manual-check" in page.inner_text("section.summary")
    assert "enterprise-manual-check" in page.inner_text("section.summary")  # the rule that fired
    assert page.locator("section.features tr").count() > 3  # the features the model saw
    assert "enterprise" in page.inner_text("section.event")
    bob_page.goto(page.url)
    stale_alice = page.context.new_page()  # the same form open twice: a repeated click
    stale_alice.goto(page.url)

    page.check("input[name=decision][value=block]")
    page.fill("textarea[name=note]", "known fraud ring <b>#42</b>")
    page.click("button[value=decide]")
    page.wait_for_url(f"{url}/queue")
    assert "recorded: block (label fraud)" in page.inner_text(".flash")
    assert _row(page, target).count() == 0  # off the queue

    # the repeated click (same reviewer, same answer) writes nothing and says so
    stale_alice.check("input[name=decision][value=block]")
    stale_alice.click("button[value=decide]")
    stale_alice.wait_for_url(f"{url}/queue")
    assert "already recorded" in stale_alice.inner_text(".flash")
    # the other reviewer's stale form is refused, naming who decided
    bob_page.check("input[name=decision][value=approve]")
    bob_page.click("button[value=decide]")
    assert "already decided by alice: block" in bob_page.inner_text("[role=alert]")
    bob.close()

    feedback = outputs_for(settings, settings.topics.feedback, target)
    assert len(feedback) == 1
    label = feedback[0]
    assert (label["label"], label["reviewer"], label["event_type"]) == ("fraud", "alice", "user_signed_up")
    assert label["note"] == "known fraud ring <b>#42</b>"
    human = human_decisions(settings, target)
    assert len(human) == 1
    assert (human[0]["decision"], human[0]["decision_source"]) == ("block", "human")
    assert human[0]["model_version"] == escalated[0]["model_version"]
    schemas = SchemaStore(settings.schemas_dir).outputs
    fastavro.validation.validate(label, schemas["feedback"], raise_errors=True)
    fastavro.validation.validate(human[0], schemas["scored"], raise_errors=True)

    report = audit(settings)  # the human decision stands apart from the accounting identity
    assert report.identity_holds, report.problems()
    assert report.human_decided == 1

    with urllib.request.urlopen(f"{url}/metrics", timeout=10) as response:
        metrics = response.read().decode()
    assert (
        'processor_review_decisions_total{decision="block",event_type="user_signed_up",reviewer="any"} 1.0' in metrics
    )
    assert 'processor_review_repeated_requests_total{outcome="same_decision"} 1.0' in metrics
    assert 'processor_review_repeated_requests_total{outcome="already_decided"} 1.0' in metrics
    assert "processor_review_time_to_decision_seconds_count" in metrics
    assert 'processor_review_model_agreement_total{agreement="' in metrics
    assert 'processor_review_queue_depth{event_type="user_signed_up"} 1.0' in metrics


HOSTILE_SUMMARY = "security: <script>window.__pwned = 1; alert(1)</script> invoice\u202efdp.exe \u200bzero\u200bwidth"
HOSTILE_DESCRIPTION = (
    '<img src=x onerror="window.__pwned=2"> </pre></td></table><iframe src="javascript:alert(3)"></iframe>'
    + "Z\u0336\u0337\u0338\u0339\u033a\u033b\u033c" * 50
    + "A" * 150_000
)


def test_hostile_payload_renders_as_text(
    review_settings_factory: Callable[..., Settings],
    processor_factory: Callable[..., Any],
    review_server: Callable[[Settings], str],
    page: Any,
    artifacts_dir: Path,
    tmp_path: Path,
) -> None:
    settings = review_settings_factory()
    run = new_run()
    record = jira(run, 7, summary=HOSTILE_SUMMARY, description=HOSTILE_DESCRIPTION, reporter="<b>mallory</b>")
    record["event_id"] = f"{run}-<script>alert('id')</script>&x=1"
    run_pipeline(settings, [record], processor_factory, tmp_path / "processor.log")
    assert len(outputs_for(settings, settings.topics.review, record["event_id"])) == 1
    url = review_server(settings)
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))

    sign_in(page, url)
    _row(page, record["event_id"]).locator("a").click()
    page.wait_for_load_state("load")
    page.screenshot(path=str(artifacts_dir / "review-hostile-item.png"))

    assert dialogs == []
    assert page.evaluate("window.__pwned") is None
    assert page.locator("script").count() == 0
    assert page.locator("img").count() == 0
    assert page.locator("iframe").count() == 0
    event_text = page.inner_text("section.event")
    assert "<script>window.__pwned = 1; alert(1)</script>" in event_text  # shown, as text
    assert '<img src=x onerror="window.__pwned=2">' in event_text
    assert "<b>mallory</b>" in event_text
    assert record["event_id"] in page.inner_text("h1")
    badges = page.locator(".badge").all_inner_texts()
    assert "U+202E" in badges and "U+200B" in badges  # the bidi override and zero-width space, visible
    assert "more characters not shown" in event_text  # 150k characters folded away
    assert len(page.content()) < 200_000
    # and the hostile item can still be decided: its odd event_id round-trips through the form
    page.check("input[name=decision][value=accept]")
    page.click("button[value=decide]")
    page.wait_for_url(f"{url}/queue")
    assert "recorded: accept" in page.inner_text(".flash")
    human = human_decisions(settings, record["event_id"])
    assert len(human) == 1 and orjson.dumps(human[0])
