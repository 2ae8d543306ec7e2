"""simulate(): interleaving, determinism, timeline, keys, and the duplicate/order/late truths."""

from __future__ import annotations

import time
import zlib
from collections import Counter, defaultdict

import pytest

from processor.config import load_pipelines, load_settings
from processor.devtools.simulate import ALL_TYPES, FaultMix, SimulatedMessage, simulate, summarize
from processor.devtools.simulate.jira_dataset import load_tickets
from processor.messages import Event, RawMessage
from processor.serializers.schemas import SchemaStore
from processor.stages.decode import Decoder
from processor.stages.reorder import PartitionBuffer

START = 1_790_000_000_000
SPAN_S = 600.0


@pytest.fixture(scope="module")
def stream(store: SchemaStore) -> list[SimulatedMessage]:
    """The demo's shape: 20,000 messages, default faults, all JSON (so every value is inspectable)."""
    return simulate(
        20_000, seed=11, faults=FaultMix.parse("default,avro_share=0"), schemas=store, start_ms=START, span_s=SPAN_S
    )


def test_the_same_seed_gives_the_same_stream(store: SchemaStore):
    one = simulate(3_000, seed=3, faults=FaultMix.default(), schemas=store, start_ms=START)
    two = simulate(3_000, seed=3, faults=FaultMix.default(), schemas=store, start_ms=START)
    assert one == two
    other = simulate(3_000, seed=4, faults=FaultMix.default(), schemas=store, start_ms=START)
    assert [m.value for m in one] != [m.value for m in other]


def test_the_fault_mix_does_not_change_the_generated_users(store: SchemaStore):
    clean = simulate(2_000, seed=3, types=("user_signed_up",), schemas=store, start_ms=START)
    faulty = simulate(
        2_000, seed=3, types=("user_signed_up",), faults=FaultMix(tombstone=0.2), schemas=store, start_ms=START
    )
    assert clean[0].value == faulty[0].value or faulty[0].fault is not None
    assert clean[0].entity_id == faulty[0].entity_id


@pytest.mark.parametrize("count", [0, 1, 2, 3, 17, 1_000])
def test_exactly_count_messages(count, store: SchemaStore):
    assert len(simulate(count, seed=1, faults=FaultMix.default(), schemas=store, start_ms=START)) == count


def test_types_are_interleaved_by_weight(stream):
    types = Counter(m.event_type for m in stream)
    assert set(types) == set(ALL_TYPES)
    assert 0.08 < types["jira_ticket_created"] / len(stream) < 0.12
    assert abs(types["user_signed_up"] - types["document_uploaded"]) < 0.1 * len(stream)
    # interleaved, not in blocks
    first_half = Counter(m.event_type for m in stream[: len(stream) // 2])
    assert all(first_half[t] > 0.4 * types[t] for t in ALL_TYPES)


def test_only_the_requested_types(store: SchemaStore):
    messages = simulate(500, seed=1, types=("document_uploaded",), faults=FaultMix.default(), schemas=store)
    assert {m.event_type for m in messages} == {"document_uploaded"}
    with pytest.raises(ValueError, match="unknown event types"):
        simulate(5, seed=1, types=("nope",), schemas=store)


def test_keys_are_the_entity_id(stream):
    for m in stream:
        assert m.key is not None and m.key.decode("utf-8") == m.entity_id


def test_event_ids_are_unique_except_duplicates(stream):
    originals = Counter(m.event_id for m in stream if m.fault != "duplicate" and m.event_id is not None)
    assert originals.most_common(1)[0][1] == 1
    earlier: dict[str, SimulatedMessage] = {}
    for m in stream:
        if m.fault == "duplicate":
            original = earlier[m.event_id]  # type: ignore[index]
            assert (original.key, original.value, original.headers) == (m.key, m.value, m.headers)
            assert original.expected == "valid" and m.expected == "duplicate"
        elif m.is_valid and m.event_id is not None:
            earlier[m.event_id] = m


def test_duplicates_follow_their_original_a_little_later(stream):
    positions = {m.event_id: i for i, m in enumerate(stream) if m.is_valid}
    gaps = [i - positions[m.event_id] for i, m in enumerate(stream) if m.fault == "duplicate"]
    assert gaps and min(gaps) >= 1
    assert sorted(gaps)[len(gaps) // 2] < 100


def test_synthetic_event_times_cover_the_span_and_stay_in_the_past(stream, store: SchemaStore):
    synthetic = [m for m in stream if m.event_type != "jira_ticket_created" and m.expected == "valid"]
    times = [m.occurred_at for m in synthetic]
    assert min(times) >= START
    assert max(times) <= START + SPAN_S * 1000 + 3_000  # an out-of-order pair may end 3 s after
    assert max(times) - min(times) > 0.95 * SPAN_S * 1000
    now_ms = int(time.time() * 1000)
    recent = simulate(2_000, seed=2, faults=FaultMix.default(), schemas=store, span_s=60.0)
    assert max(m.occurred_at for m in recent if m.occurred_at is not None) <= now_ms + 5_000


def test_jira_replays_real_tickets_in_creation_order(stream):
    jira = [m for m in stream if m.event_type == "jira_ticket_created" and m.expected == "valid"]
    times = [m.occurred_at for m in jira]
    assert times == sorted(times)
    real = {t.issue_key: t.created_ms for t in load_tickets()}
    assert all(real[m.entity_id] == m.occurred_at for m in jira)  # no wrap at 20,000: real times


def test_jira_wraps_with_new_ids_when_more_tickets_are_needed(store: SchemaStore):
    messages = simulate(6_000, seed=1, types=("jira_ticket_created",), schemas=store)
    assert len({m.event_id for m in messages}) == 6_000
    times = [m.occurred_at for m in messages]
    assert times == sorted(times)
    labels = Counter(m.label for m in messages)
    assert labels["routine"] > labels["urgent"] > 0 and labels[None] == 0


def test_out_of_order_pairs(stream):
    pairs = [(stream[i - 1], m) for i, m in enumerate(stream) if m.fault == "out_of_order"]
    assert len(pairs) > 500
    for lead, trail in pairs:
        assert lead.entity_id == trail.entity_id and lead.key == trail.key
        assert trail.expected == lead.expected == "valid"
        assert 0 < lead.occurred_at - trail.occurred_at <= 3_000  # type: ignore[operator]
        assert lead.as_json is not None and trail.as_json is not None


def test_late_events_are_behind_everything_of_their_type(stream):
    first: dict[str, int] = {}
    late = 0
    for m in stream:
        assert m.occurred_at is not None
        if m.expected == "valid":
            first.setdefault(m.event_type, m.occurred_at)  # type: ignore[arg-type]
        elif m.expected == "late":
            late += 1
            assert m.occurred_at < first[m.event_type] - 5_000  # type: ignore[index]
    assert late > 100


def test_accounting_matches_the_reorder_and_dedupe_stages(stream, store: SchemaStore):
    """Duplicates, late events and out-of-order pairs through the real reorder buffer.

    The worst case for lateness: each partition consumed on its own, in batches of 1,000, so a
    partition's first batch reaches far into the stream.
    """
    settings = load_settings()
    decoder = Decoder(store, load_pipelines(settings.pipelines_file), settings.processing)
    partitions = settings.topics.raw_partitions
    by_partition: dict[int, list[tuple[int, SimulatedMessage]]] = defaultdict(list)
    for i, m in enumerate(stream):
        by_partition[zlib.crc32(m.key or b"") % partitions].append((i, m))
    seen: set[str] = set()
    outcome: dict[int, str] = {}
    released: list[Event] = []
    for partition, items in by_partition.items():
        buffer = PartitionBuffer("events.raw", partition, 0)
        for start in range(0, len(items), settings.processing.batch_size):
            batch = items[start : start + settings.processing.batch_size]
            raws = [RawMessage("events.raw", partition, i, m.key, m.value, m.headers) for i, m in batch]
            events, _ = decoder.decode_batch(raws)
            for event in events:
                if event.event_id in seen:
                    outcome[event.raw.offset] = "duplicate"
                    continue
                seen.add(event.event_id)
                outcome[event.raw.offset] = "valid" if buffer.admit(event, 0.0) else "late"
            released.extend(buffer.release(0.0, settings.processing.allowed_lateness_ms, 3600.0))
        released.extend(buffer.release(0.0, settings.processing.allowed_lateness_ms, 3600.0, flush=True))
    for i, m in enumerate(stream):
        if m.expected in ("valid", "duplicate", "late"):
            assert outcome[i] == m.expected, (i, m.fault, m.event_type)
    # per entity, documents come out in sequence order although some pairs went in swapped
    sequences: dict[str, list[int]] = defaultdict(list)
    for event in released:
        if event.event_type == "document_uploaded":
            sequences[event.entity_id].append(event.sequence)  # type: ignore[arg-type]
    assert all(s == sorted(s) for s in sequences.values())


def test_no_faults_means_every_message_is_valid(store: SchemaStore):
    messages = simulate(2_000, seed=1, schemas=store, start_ms=START)
    assert all(m.expected == "valid" and m.fault is None and m.encoding == "json" for m in messages)


def test_summarize(stream):
    counts = summarize(stream)
    assert counts["messages"] == len(stream)
    assert sum(counts["by_expected"].values()) == len(stream)
    assert counts["by_expected"]["quarantine"] == sum(counts["by_quarantine"].values())
    assert "decode/invalid_json" in counts["by_quarantine"]
    assert counts["labels"]["user_signed_up:fraud"] > 0


def test_rfc3339_times_are_exact(stream):
    import orjson

    strings = [m for m in stream if m.is_valid and m.as_json and b'"occurred_at":"' in m.as_json]
    assert strings  # some sign-up clients send RFC 3339
    for m in strings[:50]:
        assert m.occurred_at % 1000 == 0  # type: ignore[operator]
        assert orjson.loads(m.as_json)["occurred_at"].endswith("Z")  # type: ignore[arg-type]
