"""The reorder scripts' refusals, told apart by their code, as redis-py raises them."""

from __future__ import annotations

import pytest
import redis

from processor.state.reorder_store import GenerationConflictError, OwnershipLostError, script_refusal


def _from_pipeline(reply: str, *command: object) -> redis.ResponseError:
    """The error as a plain (non-cluster) pipeline raises it: redis-py's own annotation."""
    exc = redis.ResponseError(reply)
    redis.Redis().pipeline().annotate_exception(exc, 3, command)  # no connection is made
    return exc


@pytest.mark.parametrize(
    ("reply", "error", "code"),
    [
        ("OWNER_CONFLICT partition now owned by p-1:ab12", OwnershipLostError, "ownership_lost"),
        ("GENERATION_CONFLICT expected 7 found 0", GenerationConflictError, "generation_conflict"),
    ],
)
def test_a_refusal_is_its_typed_error_alone_or_inside_a_pipeline(reply: str, error: type[Exception], code: str) -> None:
    for exc in (redis.ResponseError(reply), _from_pipeline(reply, "EVALSHA", "f00", 4, "k1")):
        refused = script_refusal(exc)
        assert isinstance(refused, error) and refused.code == code and refused.message == reply


def test_event_bytes_in_the_command_text_are_not_read_as_a_refusal() -> None:
    # the annotation quotes the command, arguments included: an event's payload is no refusal
    exc = _from_pipeline("NOSCRIPT No matching script", "EVALSHA", "f00", 4, "OWNER_CONFLICT caused error: x")
    assert script_refusal(exc) is None


@pytest.mark.parametrize(
    "reply", ["NOSCRIPT No matching script", "OOM command not allowed", "ERR OWNER_CONFLICT later in the text"]
)
def test_other_redis_errors_are_no_refusal(reply: str) -> None:
    assert script_refusal(redis.ResponseError(reply)) is None
    assert script_refusal(_from_pipeline(reply, "EVALSHA", "f00")) is None
