"""The kill switch on the real stack: on mid-stream, off again, per type, none lost."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis

from helpers.kafka import produce, wait_for
from processor.app import Processor
from processor.audit import audit, read_topic
from processor.config import Settings, load_pipelines
from processor.decide.killswitch import set_switch
from processor.devtools.simulate import FaultMix, simulate
from processor.serializers.outputs import decode_json_output
from processor.state.keys import Keys


def _decided(settings: Settings) -> list[dict[str, Any]]:
    return [
        decode_json_output(m.value() or b"")
        for topic in (settings.topics.scored, settings.topics.review)
        for m in read_topic(settings, topic, idle_s=0.5)
    ]


def test_switching_the_model_off_and_on_mid_stream(
    topic_factory: Callable[..., Settings], redis_client: redis.Redis, trained_models: Path
) -> None:
    settings = topic_factory(models_dir=trained_models, processing={"batch_size": 50, "idle_timeout_ms": 300})
    keys = Keys(settings.redis.key_prefix)
    messages = simulate(6_000, seed=8, faults=FaultMix.none(), span_s=3_600.0)
    processor = Processor(settings, load_pipelines(settings.pipelines_file))
    runner = threading.Thread(target=processor.run)
    runner.start()
    marks: dict[str, int] = {}

    def stream() -> None:
        for i in range(0, len(messages), 200):
            produce(settings, [(m.key, m.value) for m in messages[i : i + 200]])
            time.sleep(0.25)

    producer = threading.Thread(target=stream)
    try:
        producer.start()
        assert wait_for(lambda: len(_decided(settings)) > 300, 60)
        marks["global_on"] = int(time.time() * 1000)
        set_switch(redis_client, keys, "global", "fallback", "integration test", "pytest")
        time.sleep(2.5)
        marks["global_off"] = int(time.time() * 1000)
        set_switch(redis_client, keys, "global", "off", "done", "pytest")
        time.sleep(2.0)
        marks["type_on"] = int(time.time() * 1000)
        set_switch(redis_client, keys, "document_uploaded", "review", "bad uploads model", "pytest")
        time.sleep(2.5)
        marks["type_off"] = int(time.time() * 1000)
        set_switch(redis_client, keys, "document_uploaded", "off", "done", "pytest")
        producer.join(120)
        assert wait_for(lambda: len(_decided(settings)) >= len(messages) * 0.99, 60)
    finally:
        processor.stop()
        runner.join(60)

    report = audit(settings)
    assert report.identity_holds, report.problems()
    assert report.inputs == len(messages)

    def window(start: int, end: int) -> list[dict[str, Any]]:
        # one second for every processor to see the change
        return [r for r in _decided(settings) if start + 1_000 <= r["processed_at"] < end]

    def sources(records: list[dict[str, Any]]) -> set[str]:
        # rule overrides decide in every mode but review; they are checked separately below
        return {r["decision_source"] for r in records if not r["rule_ids"]}

    ruled = [r for r in _decided(settings) if r["rule_ids"]]
    assert ruled and {r["decision_source"] for r in ruled} == {"rule"}
    assert {r["rule_ids"][0] for r in ruled} <= {
        "sanctioned-country",
        "bot-burst",
        "enterprise-manual-check",
        "security-report",
        "blocker-never-triaged-away",
        "executable-payload",
        "damaged-upload",
        "declared-type-mismatch",
    }
    assert all(
        r["review_reason"] == "rule:enterprise-manual-check"
        for r in ruled
        if r["rule_ids"] == ["enterprise-manual-check"]
    )

    assert sources([r for r in _decided(settings) if r["processed_at"] < marks["global_on"]]) == {"model"}
    during = window(marks["global_on"], marks["global_off"])
    assert during and sources(during) == {"fallback"}
    assert all("kill switch (global, fallback)" in r["reason"] for r in during if not r["rule_ids"])
    between = window(marks["global_off"], marks["type_on"])
    assert between and sources(between) == {"model"}
    typed = window(marks["type_on"], marks["type_off"])
    documents = [r for r in typed if r["event_type"] == "document_uploaded"]
    others = [r for r in typed if r["event_type"] != "document_uploaded"]
    assert documents and {(r["decision_source"], r["review_reason"]) for r in documents} == {
        ("fallback", "kill_switch")
    }
    assert others and sources(others) == {"model"}
    after = window(marks["type_off"], 2**62)
    assert after and sources(after) == {"model"}
    assert processor.metrics.killswitched_events.labels("document_uploaded")._value.get() >= len(documents)
