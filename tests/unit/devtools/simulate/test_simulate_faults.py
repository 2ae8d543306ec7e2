"""The fault mix: parsing, realised rates, and truth checked against the real decoder and validator."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import pytest

from processor.devtools.simulate import FAULT_KINDS, QUARANTINE_TRUTH, FaultMix, simulate
from processor.devtools.simulate.faults import KIND_TYPES
from processor.serializers.schemas import SchemaStore

START = 1_790_000_000_000


# -- parsing -------------------------------------------------------------------------------------


def test_none_and_default():
    assert FaultMix.none().total == 0.0
    assert FaultMix.none().rates() == {}
    default = FaultMix.default()
    assert 0.1 < default.total < 0.2
    assert set(default.rates()) == set(FAULT_KINDS)  # the demo shows every kind
    assert 0 < default.avro_share < 1


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (None, FaultMix.default()),
        ("", FaultMix.default()),
        ("default", FaultMix.default()),
        ("none", FaultMix.none()),
        ("dup=0.05,ooo=0.1", FaultMix(duplicate=0.05, out_of_order=0.1)),
        ("duplicate=0.05, out-of-order=0.1", FaultMix(duplicate=0.05, out_of_order=0.1)),
        ("default,late=0.05", replace(FaultMix.default(), late=0.05)),
        ("none,avro_share=1,late_warmup=10", FaultMix(avro_share=1.0, late_warmup=10)),
    ],
)
def test_parse(spec, expected):
    assert FaultMix.parse(spec) == expected


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("bogus=0.1", "is not kind=rate"),
        ("duplicate", "is not 'none', 'default'"),
        ("duplicate=lots", "is not a number"),
        ("duplicate=1.5", "between 0 and 1"),
        ("duplicate=-0.1", "between 0 and 1"),
        ("duplicate=0.6,late=0.6", "add up to"),
        ("none,late_warmup=-1", "late_warmup"),
    ],
)
def test_parse_errors_say_what_is_wrong(spec, message):
    with pytest.raises(ValueError, match=message):
        FaultMix.parse(spec)


def test_str_round_trips():
    for mix in (FaultMix.none(), FaultMix.default(), FaultMix(duplicate=0.125, late_warmup=5)):
        assert FaultMix.parse(str(mix)) == mix


def test_every_quarantining_kind_has_a_truth():
    quarantining = set(FAULT_KINDS) - {"duplicate", "out_of_order", "late"}
    assert set(QUARANTINE_TRUTH) == quarantining


# -- rates ---------------------------------------------------------------------------------------


def test_realised_rates_are_within_tolerance(store: SchemaStore):
    count = 30_000
    rates = {kind: 0.01 for kind in FAULT_KINDS} | {"duplicate": 0.05, "out_of_order": 0.05, "late": 0.02}
    mix = FaultMix(**rates, late_warmup=3_000)
    messages = simulate(count, seed=5, faults=mix, schemas=store, start_ms=START)
    assert len(messages) == count
    realised = Counter(m.fault for m in messages)
    for kind, rate in mix.rates().items():
        expected = rate * count
        tolerance = 4 * (expected * (1 - rate)) ** 0.5 + 10  # four standard deviations
        assert abs(realised[kind] - expected) <= tolerance, (kind, realised[kind], expected)
    late_positions = [i for i, m in enumerate(messages) if m.fault == "late"]
    assert min(late_positions) >= 3_000  # nothing late before the warm-up


def test_kinds_limited_to_some_types_fall_back_to_clean_without_them(store: SchemaStore):
    messages = simulate(
        2_000,
        seed=1,
        types=("jira_ticket_created",),
        faults=FaultMix(out_of_order=0.2, out_of_range=0.2),
        schemas=store,
        start_ms=START,
    )
    assert KIND_TYPES["out_of_order"] == {"document_uploaded"}
    assert all(m.fault is None for m in messages)


# -- truth against the real decoder and validator ------------------------------------------------

_QUARANTINE_KINDS = sorted(QUARANTINE_TRUTH)


@pytest.mark.parametrize("kind", _QUARANTINE_KINDS)
def test_each_fault_kind_gets_exactly_the_promised_stage_and_code(kind, store: SchemaStore, run_stages, expected):
    rate = 0.02 if kind == "oversized" else 0.5  # oversized values are a megabyte each
    messages = simulate(3_000, seed=_QUARANTINE_KINDS.index(kind), faults=FaultMix(**{kind: rate}), schemas=store)
    faulty = [m for m in messages if m.fault == kind]
    assert len(faulty) > 3_000 * rate * 0.8
    outcomes = run_stages(messages)
    wrong = [
        (m.variant, m.event_type, got, expected(m))
        for m, got in zip(messages, outcomes, strict=True)
        if got != expected(m)
    ]
    assert not wrong, wrong[:10]
    stage, code = QUARANTINE_TRUTH[kind]
    assert {(m.expected_stage, m.expected_code) for m in faulty} <= {(stage, code), (stage, "bad_format")}
    single_flavour = kind in ("tombstone", "avro_unknown_fingerprint")
    assert len({m.variant for m in faulty}) >= (1 if single_flavour else 3)  # several real-world flavours


def test_the_default_mix_is_truthful(store: SchemaStore, run_stages, expected):
    messages = simulate(20_000, seed=21, faults=FaultMix.default(), schemas=store, span_s=600.0)
    assert Counter(m.encoding for m in messages)["avro"] > 3_000
    outcomes = run_stages(messages)
    wrong = Counter(
        (m.fault, got, expected(m)) for m, got in zip(messages, outcomes, strict=True) if got != expected(m)
    )
    assert not wrong


def test_wrong_type_covers_strict_and_tolerant_types(store: SchemaStore, run_stages):
    messages = simulate(3_000, seed=2, faults=FaultMix(wrong_type=0.6), schemas=store)
    kinds = Counter(m.event_type for m in messages if m.fault == "wrong_type")
    assert set(kinds) == {"user_signed_up", "jira_ticket_created", "document_uploaded"}
    # user_signed_up is tolerant: only values no coercion can save are used there
    users = [m for m in messages if m.fault == "wrong_type" and m.event_type == "user_signed_up"]
    assert all(got == ("schema", "wrong_type") for got in run_stages(users))


def test_out_of_range_includes_the_sha256_format_case(store: SchemaStore):
    messages = simulate(4_000, seed=3, faults=FaultMix(out_of_range=0.5), schemas=store)
    codes = Counter(m.expected_code for m in messages if m.fault == "out_of_range")
    assert codes["out_of_range"] > 0 and codes["bad_format"] > 0


def test_oversized_values_exceed_the_configured_limit(store: SchemaStore):
    messages = simulate(500, seed=4, faults=FaultMix(oversized=0.05), schemas=store, max_message_bytes=200_000)
    big = [m for m in messages if m.fault == "oversized"]
    assert big and all(m.value is not None and 200_000 < len(m.value) < 300_000 for m in big)


def test_avro_encoded_events_are_truthful(store: SchemaStore, run_stages, expected):
    mix = FaultMix.parse("none,avro_share=1,out_of_range=0.1,duplicate=0.05")
    messages = simulate(3_000, seed=8, faults=mix, schemas=store)
    assert Counter(m.encoding for m in messages if m.fault != "duplicate")["avro"] > 2_500
    outcomes = run_stages(messages)
    wrong = Counter(
        (m.fault, got, expected(m)) for m, got in zip(messages, outcomes, strict=True) if got != expected(m)
    )
    assert not wrong


def test_avro_values_are_single_object_encoded_with_the_matching_schema(store: SchemaStore):
    messages = simulate(2_000, seed=9, faults=FaultMix(avro_share=1.0), schemas=store)
    for m in messages:
        assert m.encoding == "avro" and m.value is not None
        assert m.value[:2] == b"\xc3\x01"
        writer = store.by_fingerprint(m.value[2:10])
        assert writer is not None and writer.name == m.event_type
    versions = Counter((m.event_type, store.by_fingerprint(m.value[2:10]).version) for m in messages)
    assert versions[("user_signed_up", 1)] > 0 and versions[("user_signed_up", 2)] > 0
