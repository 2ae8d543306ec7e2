"""CommitMetadata: what rides along with each committed offset."""

from __future__ import annotations

import orjson
import pytest

from processor.checkpointing.metadata import CommitMetadata


@pytest.mark.parametrize(("generation", "low"), [(0, 0), (1, 42), (2**40, 2**62), (7, -1001)])
def test_round_trip(generation, low):
    meta = CommitMetadata(generation=generation, low_offset=low)
    text = meta.encode()
    assert isinstance(text, str)
    assert CommitMetadata.decode(text) == meta


def test_encoding_is_small_versioned_json():
    text = CommitMetadata(3, 17, 5).encode()
    assert orjson.loads(text) == {"v": 1, "g": 3, "lo": 17, "n": 5}
    assert len(text) < 64  # Kafka keeps offset metadata small (offset.metadata.max.bytes defaults to 4096)


@pytest.mark.parametrize(
    "text",
    [
        None,
        "",
        "garbage",
        "{",
        "[]",
        "[1, 2]",
        "null",
        "42",
        '"g"',
        "{}",
        '{"g": 1}',
        '{"lo": 1}',
        '{"g": "x", "lo": 1}',
        '{"g": null, "lo": 1}',
        '{"g": [1], "lo": 1}',
        "\udcff",
    ],
)
def test_garbage_decodes_to_none(text):
    assert CommitMetadata.decode(text) is None


def test_unknown_keys_are_ignored():
    assert CommitMetadata.decode('{"v": 2, "g": 1, "lo": 2, "new": true}') == CommitMetadata(1, 2)


def test_frozen():
    meta = CommitMetadata(1, 2)
    with pytest.raises(AttributeError):
        meta.generation = 5  # type: ignore[misc]


def test_metadata_written_before_the_held_count_existed_still_decodes():
    assert CommitMetadata.decode('{"v":1,"g":3,"lo":17}') == CommitMetadata(3, 17, 0)
