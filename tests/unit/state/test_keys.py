"""Redis key names: one prefix, and Redis Cluster hash tags that keep a partition's buffer in one slot."""

from __future__ import annotations

import pytest
from redis.crc import key_slot

from processor.state.keys import GROUPS, Keys

PREFIXES = ["proc:", "tenant-a/processor:", ""]


def all_keys(keys: Keys, topic: str = "events.raw", partition: int = 3) -> dict[str, str]:
    return {
        "dedupe": keys.dedupe_bucket(7, 20_000),
        "history": keys.history_bucket(keys.history_tag("user_signed_up", "ip_address"), 7, 400),
        "history_promoted": keys.history_promoted("Ab3d", 7, 400, b"0123456789ab"),
        "buffer_state": keys.buffer_state(topic, partition),
        "buffer_items": keys.buffer_items(topic, partition),
        "buffer_undo": keys.buffer_undo(topic, partition, 17),
    }


def buffer_keys(keys: Keys, topic: str, partition: int) -> list[str]:
    return [
        keys.buffer_state(topic, partition),
        keys.buffer_items(topic, partition),
        keys.buffer_undo(topic, partition, 0),
        keys.buffer_undo(topic, partition, 123456),
    ]


def hash_tag(key: str) -> str | None:
    """The part Redis Cluster hashes: between the first '{' and the next '}', if non-empty."""
    start = key.find("{")
    if start < 0:
        return None
    end = key.find("}", start + 1)
    if end <= start + 1:
        return None
    return key[start + 1 : end]


@pytest.mark.parametrize("prefix", PREFIXES)
def test_every_key_starts_with_the_prefix(prefix):
    keys = Keys(prefix)
    for name, key in all_keys(keys).items():
        if name.startswith("buffer"):
            assert key.startswith("{" + prefix), key
        else:
            assert key.startswith(prefix), key


def test_dedupe_and_history_keys_carry_a_slot_group_tag():
    keys = Keys("proc:")
    assert hash_tag(keys.dedupe_bucket(7, 20_000)) == "d7"
    assert hash_tag(keys.dedupe_bucket(7 + GROUPS, 20_000)) == "d7"  # shards of one group share its slot
    assert hash_tag(keys.dedupe_bucket(7, 20_001)) == "d7"  # and so do the buckets of one shard
    tag = keys.history_tag("t", "c")
    # a shard's hashes of two buckets and its promoted sets: one slot, so one script can take them all
    assert {
        hash_tag(keys.history_bucket(tag, 7, 400)),
        hash_tag(keys.history_bucket(tag, 7, 399)),
        hash_tag(keys.history_promoted(tag, 7, 400, b"x" * 12)),
        hash_tag(keys.history_bucket(tag, 7 + GROUPS, 400)),
    } == {"h7"}


def test_compact_names_differ_by_every_part():
    keys = Keys("proc:")
    tags = {keys.history_tag(t, f) for t in ("a", "ab") for f in ("b", "c", "bc")}
    assert len(tags) == 6
    assert keys.history_tag("a", "bc") != keys.history_tag("ab", "c")  # parts are not just concatenated
    names = {keys.history_bucket(tag, s, b) for tag in tags for s in (1, 2) for b in (399, 400)}
    assert len(names) == 24
    assert len({keys.history_promoted("tag", 1, 400, bytes([i]) * 12) for i in range(50)}) == 50
    assert len({keys.dedupe_bucket(s, b) for s in range(300) for b in (1, 2)}) == 600


@pytest.mark.parametrize("prefix", PREFIXES)
def test_one_partition_shares_one_hash_tag_and_slot(prefix):
    keys = Keys(prefix)
    found = buffer_keys(keys, "events.raw", 5)
    tags = {hash_tag(k) for k in found}
    assert tags == {f"{prefix}rb:events.raw:5"}
    assert keys.partition_tag("events.raw", 5) == "{" + f"{prefix}rb:events.raw:5" + "}"
    assert len({key_slot(k.encode()) for k in found}) == 1
    assert len(set(found)) == len(found)


def test_partitions_and_topics_differ():
    keys = Keys("proc:")
    tags = {hash_tag(keys.buffer_state(t, p)) for t in ("events.raw", "other.raw") for p in range(12)}
    assert len(tags) == 24
    assert keys.buffer_items("events.raw", 1) != keys.buffer_items("events.raw", 11)
    # and they spread over the cluster instead of piling into one slot
    slots = {key_slot(keys.buffer_state("events.raw", p).encode()) for p in range(12)}
    assert len(slots) > 1


def test_prefixes_separate_deployments():
    a, b = Keys("a:"), Keys("b:")
    assert set(all_keys(a).values()).isdisjoint(all_keys(b).values())


def test_undo_keys_differ_by_generation():
    keys = Keys("proc:")
    assert keys.buffer_undo("t", 0, 1) != keys.buffer_undo("t", 0, 2)


def test_keys_are_distinct_by_kind():
    keys = Keys("proc:")
    assert keys.dedupe_bucket(0, 0) != keys.history_bucket("x", 0, 0)
    assert len(set(all_keys(keys).values())) == 6
