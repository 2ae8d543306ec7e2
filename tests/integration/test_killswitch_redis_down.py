"""With Redis gone, every processor keeps the last kill-switch state it read."""

from __future__ import annotations

import uuid

import redis

from processor.decide.killswitch import KillSwitch, set_switch
from processor.state.keys import Keys


def test_the_last_known_state_holds_while_redis_is_unreachable(redis_client: redis.Redis) -> None:
    keys = Keys(f"it:{uuid.uuid4().hex[:8]}:")
    switch = KillSwitch(redis_client, keys, ["user_signed_up", "document_uploaded"], poll_interval_s=0.0)
    set_switch(redis_client, keys, "document_uploaded", "review", "incident", "pytest")
    assert switch.refresh()
    assert switch.state_for("document_uploaded").mode == "review"

    # the same switch now talks to a Redis that is not there (nothing listens on port 1)
    switch._client = redis.Redis(port=1, socket_connect_timeout=0.2)
    assert not switch.refresh()
    assert not switch.reachable
    assert switch.state_for("document_uploaded").mode == "review"
    assert switch.state_for("user_signed_up").mode == "off"

    switch._client = redis_client  # Redis is back: the switch follows it again
    set_switch(redis_client, keys, "document_uploaded", "off", "resolved", "pytest")
    assert switch.refresh() and switch.reachable
    assert switch.state_for("document_uploaded").mode == "off"
