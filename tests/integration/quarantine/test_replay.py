"""Quarantine replay on the real broker and Redis: after a schema fix, each event is scored once.

Producers start sending ``user_signed_up`` v3 before the schema is deployed: the processor
quarantines those events (``schema/unknown_schema_version``), after their dedupe marks were set.
The v3 schema is deployed, the processor restarted, and ``processor quarantine replay`` sends
the original bytes back. Every replayed event must be decided exactly once: not dropped as a
duplicate of its quarantined attempt, not produced twice by a second replay of the same
selection (the ledger skips it), and not decided twice even when the ledger is bypassed with
``--force`` (the processor's replay dedupe drops the copy).
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
from confluent_kafka import Consumer, TopicPartition

from helpers.kafka import produce, settings_env, wait_for
from processor.audit import audit, read_topic
from processor.config import PROJECT_ROOT, Settings
from processor.devtools.simulate import FaultMix, simulate
from processor.replay_headers import REPLAY_OF, REPLAY_SOURCE
from processor.serializers.outputs import decode_json_output

V3_FIELD = {"name": "referral_channel", "type": ["null", "string"], "default": None, "doc": "Added in v3."}


def _cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "processor", "quarantine", *args],
        env=settings_env(settings),
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def _decided(settings: Settings) -> list[dict[str, Any]]:
    t = settings.topics
    return [
        decode_json_output(m.value()) for topic in (t.scored, t.review) for m in read_topic(settings, topic, idle_s=0.5)
    ]


def _caught_up(settings: Settings) -> bool:
    """The processor's group has committed the end of every input partition."""
    consumer = Consumer({"bootstrap.servers": settings.kafka.bootstrap_servers, "group.id": settings.kafka.group_id})
    try:
        topic = settings.topics.raw
        partitions = sorted(consumer.list_topics(topic, timeout=10).topics[topic].partitions)
        committed = consumer.committed([TopicPartition(topic, p) for p in partitions], timeout=10)
        for tp in committed:
            high = consumer.get_watermark_offsets(TopicPartition(topic, tp.partition), timeout=10)[1]
            if high > 0 and tp.offset < high:
                return False
        return True
    finally:
        consumer.close()


def test_replay_after_a_schema_fix_scores_each_event_exactly_once(
    topic_factory: Callable[..., Settings],
    processor_factory: Callable[..., subprocess.Popen[bytes]],
    trained_models: Path,
    tmp_path: Path,
) -> None:
    settings = topic_factory(models_dir=trained_models)
    now = int(time.time() * 1000)
    sims = simulate(30, seed=11, types=("user_signed_up",), faults=FaultMix.none(), start_ms=now - 120_000, span_s=60)
    messages: list[tuple[bytes | None, bytes | None]] = []
    v3_ids = set()
    for index, sim in enumerate(sims):
        assert sim.value is not None
        if index % 3 == 2:  # a third stays v2, the schema the processor knows
            messages.append((sim.key, sim.value))
            continue
        record = orjson.loads(sim.value)
        record["schema_version"] = 3
        record["referral_channel"] = "podcast"
        v3_ids.add(record["event_id"])
        messages.append((sim.key, orjson.dumps(record)))
    produce(settings, messages)

    # 1. the processor does not know v3 yet: those events are quarantined
    first = processor_factory(settings, "--max-idle", "4", log=tmp_path / "first.log")
    assert first.wait(180) == 0, (tmp_path / "first.log").read_text()[-3000:]
    listing = _cli(
        settings, "list", "--stage", "schema", "--error-code", "unknown_schema_version", "--json", "--limit", "0"
    )
    assert listing.returncode == 0, listing.stderr
    quarantined = json.loads(listing.stdout)
    assert {q["event_id"] for q in quarantined} == v3_ids
    assert all(q["replayed"] is None for q in quarantined)
    assert len(_decided(settings)) == len(sims) - len(v3_ids)

    # 2. the fix: deploy schema v3 (v2 plus an optional field) and restart the processor
    fixed = tmp_path / "schemas"
    shutil.copytree(PROJECT_ROOT / "schemas", fixed)
    v2 = json.loads((fixed / "input" / "user_signed_up.v2.avsc").read_text())
    v2["fields"].append(V3_FIELD)
    v2["doc"] = "A user account was created. Schema version 3."
    (fixed / "input" / "user_signed_up.v3.avsc").write_text(json.dumps(v2, indent=2))
    fixed_settings = settings.model_copy(update={"schemas_dir": fixed})
    second = processor_factory(fixed_settings, log=tmp_path / "second.log")

    # 3. replay the selection: every event is decided once, not dropped as its own duplicate
    replayed = _cli(
        fixed_settings, "replay", "--stage", "schema", "--error-code", "unknown_schema_version", "--by", "it"
    )
    assert replayed.returncode == 0, replayed.stderr
    assert f"replayed {len(v3_ids)}," in replayed.stdout, replayed.stdout
    assert wait_for(lambda: len(_decided(settings)) >= len(sims), 120), (tmp_path / "second.log").read_text()[-3000:]

    # 4. the same selection again: the ledger skips every record, nothing is sent
    again = _cli(fixed_settings, "replay", "--stage", "schema", "--error-code", "unknown_schema_version")
    assert again.returncode == 0, again.stderr
    assert f"replayed 0, skipped (already replayed) {len(v3_ids)}" in again.stdout, again.stdout

    # 5. bypass the ledger: the copies reach the input, and the processor drops them as duplicates
    forced = _cli(fixed_settings, "replay", "--stage", "schema", "--error-code", "unknown_schema_version", "--force")
    assert forced.returncode == 0, forced.stderr
    assert f"replayed {len(v3_ids)}," in forced.stdout, forced.stdout
    assert wait_for(lambda: _caught_up(settings), 120), (tmp_path / "second.log").read_text()[-3000:]
    second.send_signal(signal.SIGTERM)
    assert second.wait(60) == 0, (tmp_path / "second.log").read_text()[-3000:]

    decided = _decided(settings)
    counts = Counter(r["event_id"] for r in decided)
    assert {e: n for e, n in counts.items() if n != 1} == {}
    assert v3_ids <= set(counts)
    assert len(decided) == len(sims)
    assert {r["decision_source"] for r in decided if r["event_id"] in v3_ids} <= {"model", "rule"}

    raw = read_topic(settings, settings.topics.raw)
    replay_copies = [m for m in raw if any(name == REPLAY_OF for name, _ in (m.headers() or ()))]
    assert len(replay_copies) == 2 * len(v3_ids)
    sources = {dict(m.headers())[REPLAY_SOURCE].decode() for m in replay_copies}
    assert len(sources) == len(v3_ids)  # each names the original input position it replays
    originals = {(k, v) for k, v in messages}
    assert all((m.key(), m.value()) in originals for m in replay_copies)  # the original bytes, untouched

    report = audit(settings)
    assert report.identity_holds, report.problems()
    assert report.inputs == len(sims) + 2 * len(v3_ids)
    assert report.quarantined == len(v3_ids)
    assert report.duplicates_dropped == len(v3_ids)

    listing = _cli(settings, "list", "--stage", "schema", "--json", "--limit", "0")
    ledger = [q["replayed"] for q in json.loads(listing.stdout)]
    assert len(ledger) == len(v3_ids)
    assert all(entry is not None and entry["to"].startswith(settings.topics.raw) for entry in ledger)
    shown = _cli(settings, "show", quarantined[0]["coordinate"])
    assert shown.returncode == 0 and json.loads(shown.stdout)["event_id"] == quarantined[0]["event_id"]


def test_list_reads_from_the_since_time_and_filters_by_type(
    topic_factory: Callable[..., Settings],
    processor_factory: Callable[..., subprocess.Popen[bytes]],
    tmp_path: Path,
) -> None:
    settings = topic_factory()
    produce(settings, [(b"k1", b"{not json"), (b"k2", b'{"event_type": "no_such_type", "event_id": "x"}')])
    proc = processor_factory(settings, "--max-idle", "3", log=tmp_path / "processor.log")
    assert proc.wait(120) == 0, (tmp_path / "processor.log").read_text()[-3000:]

    every = json.loads(_cli(settings, "list", "--json", "--since", "1h").stdout)
    assert sorted((q["stage"], q["error_code"]) for q in every) == [
        ("decode", "invalid_json"),
        ("schema", "unknown_event_type"),
    ]
    decode_only = json.loads(_cli(settings, "list", "--json", "--stage", "decode").stdout)
    assert [q["value"]["utf8"] for q in decode_only] == ["{not json"]
    assert json.loads(_cli(settings, "list", "--json", "--until", "1h").stdout) == []
    assert json.loads(_cli(settings, "list", "--json", "--since", str(int(time.time() * 1000) + 600_000)).stdout) == []
    shown = json.loads(_cli(settings, "show", decode_only[0]["coordinate"]).stdout)
    assert shown["error_code"] == "invalid_json" and shown["replayed"] is None
    # the input position a quarantine log line prints (raw topic:partition:offset) finds it too
    assert decode_only[0]["source"].startswith(f"{settings.topics.raw}:")
    by_input = _cli(settings, "show", decode_only[0]["source"])
    assert by_input.returncode == 0, by_input.stderr
    assert json.loads(by_input.stdout)["coordinate"] == decode_only[0]["coordinate"]
    unanswered = _cli(settings, "show", f"{settings.topics.raw}:0:999999")
    assert unanswered.returncode == 1 and "answers the input" in unanswered.stderr
    missing = _cli(settings, "show", "0:999999")
    assert missing.returncode == 1 and "no committed quarantine record" in missing.stderr
    refused = _cli(settings, "replay")
    assert refused.returncode == 2 and "--all" in refused.stderr
    bad_time = _cli(settings, "list", "--since", "yesterday")
    assert bad_time.returncode == 2 and "is not a time" in bad_time.stderr
