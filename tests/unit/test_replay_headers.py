from __future__ import annotations

from processor.replay_headers import REPLAY_OF, REPLAY_SOURCE, dedupe_identity, replay_of, without_replay_headers


def test_an_ordinary_event_is_deduplicated_on_its_event_id() -> None:
    assert dedupe_identity("e1", ()) == "e1"
    assert dedupe_identity("e1", (("trace", b"x"),)) == "e1"


def test_a_replay_is_deduplicated_on_the_quarantine_record_it_replays() -> None:
    first = dedupe_identity("e1", ((REPLAY_OF, b"q:0:5"),))
    assert first != "e1"  # not a duplicate of the quarantined attempt
    assert first == dedupe_identity("e1", (("trace", b"x"), (REPLAY_OF, b"q:0:5")))  # a second copy is
    assert first != dedupe_identity("e1", ((REPLAY_OF, b"q:1:9"),))  # a replay of a later quarantine is not


def test_replay_headers_of_an_earlier_replay_are_dropped() -> None:
    headers = (("trace", b"x"), (REPLAY_OF, b"q:0:5"), (REPLAY_SOURCE, b"raw:0:1"))
    assert without_replay_headers(headers) == (("trace", b"x"),)
    assert replay_of(headers) == "q:0:5"
    assert replay_of((("trace", b"x"),)) is None
