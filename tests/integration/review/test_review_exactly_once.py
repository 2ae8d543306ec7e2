"""Decisions are exactly once per event_id: concurrent reviewers on two replicas, repeated and
retried requests, and a replica that dies between its Kafka commit and its Redis write."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from helpers.review import PASSWORDS, human_decisions, new_run, outputs_for, review_env, run_pipeline, signup
from processor.config import Settings, load_pipelines
from processor.review.decisions import Outcome
from processor.review.items import Choices
from processor.review.records import decision_outputs
from processor.review.server import build_context
from processor.review.store import ReviewStore
from processor.serializers.outputs import OutputEncoder
from processor.serializers.schemas import SchemaStore


@pytest.fixture
def escalated(
    review_settings_factory: Callable[..., Settings], processor_factory: Callable[..., Any], tmp_path: Path
) -> tuple[Settings, list[str]]:
    """Five enterprise sign-ups escalated by the real pipeline (no model: fallback, then the rule)."""
    settings = review_settings_factory()
    run = new_run()
    records = [signup(run, i) for i in range(5)]
    run_pipeline(settings, records, processor_factory, tmp_path / "processor.log")
    return settings, [r["event_id"] for r in records]


@pytest.fixture
def replica() -> Any:
    """``replica(settings, name)``: a review app's components with its ingest running, as serve runs it."""
    started: list[tuple[Any, threading.Event, threading.Thread]] = []

    def make(settings: Settings, name: str) -> Any:
        own = settings.model_copy(
            update={
                "review": settings.review.model_copy(update={"transactional_id": f"{settings.review.group_id}-{name}"})
            }
        )
        ctx = build_context(own, load_pipelines(settings.pipelines_file))
        stop = threading.Event()
        thread = threading.Thread(target=ctx.ingest.run, args=(stop,), daemon=True)
        thread.start()
        started.append((ctx, stop, thread))
        assert ctx.ingest.caught_up.wait(90)
        return ctx

    yield make
    for ctx, stop, thread in started:
        stop.set()
        thread.join(30)
        ctx.ingest.close()
        ctx.service.close()


def test_concurrent_and_repeated_decisions_write_once(escalated: tuple[Settings, list[str]], replica: Any) -> None:
    settings, event_ids = escalated
    replicas = [replica(settings, "a"), replica(settings, "b")]
    outcomes: dict[str, list[Outcome]] = {e: [] for e in event_ids}
    lock = threading.Lock()
    start = threading.Barrier(16)

    def click(i: int) -> None:
        ctx = replicas[i % 2]
        reviewer = ("alice", "bob")[i // 2 % 2]
        decision = ("block", "approve")[i // 4 % 2]
        start.wait()
        for _ in range(3):  # each "reviewer" clicks three times
            for event_id in event_ids:
                outcome = ctx.service.decide(event_id, reviewer, decision, f"click {i}")
                with lock:
                    outcomes[event_id].append(outcome)

    threads = [threading.Thread(target=click, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    for event_id in event_ids:
        statuses = Counter(o.status for o in outcomes[event_id])
        assert statuses["decided"] == 1, statuses
        assert statuses["failed"] == 0, statuses
        assert sum(statuses.values()) == 48
        winner = next(o.done for o in outcomes[event_id] if o.status == "decided")
        assert winner is not None
        feedback = outputs_for(settings, settings.topics.feedback, event_id)
        human = human_decisions(settings, event_id)
        assert len(feedback) == 1 and len(human) == 1, (feedback, human)
        assert feedback[0]["reviewer"] == winner.reviewer == human[0]["reason"].split()[2]
        assert human[0]["decision"] == winner.decision
        assert replicas[0].store.depth() == 0


def test_commit_without_redis_write_is_recovered_from_the_feedback_topic(
    escalated: tuple[Settings, list[str]], replica: Any
) -> None:
    """The replica died after its Kafka commit, before recording the decision: the claim expires,
    yet nobody can decide the event again, because ingest reads the committed label back."""
    settings, event_ids = escalated
    ctx = replica(settings, "a")
    event_id = event_ids[0]
    item = ctx.store.get(event_id)
    assert item is not None
    choice = Choices.build(load_pipelines(settings.pipelines_file), settings.review).find(item.event_type, "block")
    assert choice is not None
    claim = ctx.store.claim(event_id, "alice", 60_000)
    outputs = decision_outputs(
        settings.topics, OutputEncoder(SchemaStore(settings.schemas_dir)), item, choice, "alice", 1, None
    )
    ctx.service._producer.write(outputs, lambda: True)
    ctx.store.release(event_id, claim.token)  # the claim is gone (expired), the decision is not
    deadline = time.monotonic() + 30  # the running ingest reads the committed label back
    while ctx.store.done(event_id) is None and time.monotonic() < deadline:
        time.sleep(0.2)
    done = ctx.store.done(event_id)
    assert done is not None and (done.reviewer, done.decision, done.label) == ("alice", "block", "fraud")
    again = ctx.service.decide(event_id, "bob", "approve", None)
    assert again.status == "conflict" and "already decided by alice" in again.message
    assert len(outputs_for(settings, settings.topics.feedback, event_id)) == 1
    assert event_id not in [e.item.event_id for e in ctx.store.queue()]


def test_http_concurrent_posts_and_security(
    escalated: tuple[Settings, list[str]], review_server: Callable[[Settings], str]
) -> None:
    settings, event_ids = escalated
    url = review_server(settings)
    with httpx.Client(base_url=url, follow_redirects=False, timeout=30) as anon:
        assert anon.get("/queue").headers["location"] == "/login"
        page = anon.get("/login")
        assert "default-src 'none'" in page.headers["content-security-policy"]
        assert page.headers["x-frame-options"] == "DENY"
        token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
        bad = anon.post("/login", data={"csrf_token": token, "reviewer": "alice", "password": "wrong"})
        assert bad.status_code == 401
        no_token = anon.post("/login", data={"reviewer": "alice", "password": PASSWORDS["alice"]})
        assert no_token.status_code == 403
        used = anon.post("/login", data={"csrf_token": token, "reviewer": "alice", "password": PASSWORDS["alice"]})
        assert used.status_code == 403  # a sign-in form serves one attempt
        token = anon.get("/login").text.split('name="csrf_token" value="')[1].split('"')[0]
        ok = anon.post("/login", data={"csrf_token": token, "reviewer": "alice", "password": PASSWORDS["alice"]})
        assert ok.status_code == 303 and ok.headers["location"] == "/queue"
        item = anon.get("/item", params={"event_id": event_ids[0]})
        assert item.status_code == 200
        csrf = item.text.split('name="csrf_token" value="')[1].split('"')[0]
        form = {"csrf_token": csrf, "event_id": event_ids[0], "decision": "block", "note": ""}
        forged = anon.post("/decide", data={**form, "csrf_token": "forged"})
        assert forged.status_code == 403
        cross = anon.post("/decide", data=form, headers={"origin": "http://evil.example"})
        assert cross.status_code == 403
        invalid = anon.post("/decide", data={**form, "decision": "<script>"})
        assert invalid.status_code == 400
        cookies = dict(anon.cookies)

    # twenty identical posts at once (a double-clicking reviewer, a retrying proxy)
    statuses: list[int] = []

    def post() -> None:
        with httpx.Client(base_url=url, cookies=cookies, follow_redirects=False, timeout=60) as client:
            statuses.append(client.post("/decide", data=form).status_code)

    threads = [threading.Thread(target=post) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert len(statuses) == 20 and all(s in (303, 409) for s in statuses), statuses
    assert len(outputs_for(settings, settings.topics.feedback, event_ids[0])) == 1
    assert len(human_decisions(settings, event_ids[0])) == 1
    metrics = httpx.get(f"{url}/metrics").text
    assert (
        'processor_review_decisions_total{decision="block",event_type="user_signed_up",reviewer="any"} 1.0' in metrics
    )
    assert "processor_review_csrf_rejections_total 4.0" in metrics  # the reused sign-in form is the fourth
    assert 'processor_review_login_failures_total{reason="bad_credentials"} 1.0' in metrics

    # signing out revokes the session: a copy of its cookie signs nobody in afterwards
    with httpx.Client(base_url=url, cookies=cookies, follow_redirects=False, timeout=30) as client:
        queue = client.get("/queue")
        assert queue.status_code == 200
        csrf = queue.text.split('name="csrf_token" value="')[1].split('"')[0]
        assert client.post("/logout", data={"csrf_token": csrf}).headers["location"] == "/login"
    with httpx.Client(base_url=url, cookies=cookies, follow_redirects=False, timeout=30) as copy:
        assert copy.get("/queue").headers["location"] == "/login"
        assert copy.post("/decide", data=form).headers["location"] == "/login"


def test_review_next_from_the_terminal(escalated: tuple[Settings, list[str]]) -> None:
    settings, event_ids = escalated
    store_view = build_context(settings, load_pipelines(settings.pipelines_file), with_ingest=False)
    proc = subprocess.run(
        [sys.executable, "-m", "processor", "review", "next", "--reviewer", "bob", "--password-stdin", "--once"],
        input=f"{PASSWORDS['bob']}\n2\nlooks fine\n",
        env=review_env(settings),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "rule:enterprise-manual-check" in proc.stdout
    assert "decided: recorded: approve (label legit)" in proc.stdout
    store: ReviewStore = store_view.store
    decided = [e for e in event_ids if store.done(e) is not None]
    assert len(decided) == 1
    feedback = outputs_for(settings, settings.topics.feedback, decided[0])
    assert len(feedback) == 1 and (feedback[0]["reviewer"], feedback[0]["label"], feedback[0]["note"]) == (
        "bob",
        "legit",
        "looks fine",
    )
    wrong = subprocess.run(
        [sys.executable, "-m", "processor", "review", "next", "--reviewer", "bob", "--password-stdin"],
        input="not-the-password\n",
        env=review_env(settings),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert wrong.returncode == 2 and "wrong password" in wrong.stderr
    store_view.service.close()
