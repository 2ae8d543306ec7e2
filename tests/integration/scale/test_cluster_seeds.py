"""A Redis Cluster URL that lists several seed nodes: the client starts while the first is down."""

from __future__ import annotations

import uuid

import pytest
from redis.exceptions import RedisClusterException

from helpers.net import free_port
from processor.config import RedisSettings
from processor.state.redis_client import connect, is_cluster
from scale.harness import ScaleConfig, cluster_up


@pytest.fixture(scope="module")
def redis_cluster() -> int:
    cluster_up("redis")
    return ScaleConfig().redis_port


def test_the_client_starts_from_any_seed_that_answers(redis_cluster: int) -> None:
    dead = free_port()  # nothing listens here: a node that is down while the processor restarts
    url = f"redis+cluster://127.0.0.1:{dead},127.0.0.1:{redis_cluster + 1},127.0.0.1:{redis_cluster + 2}"
    client = connect(RedisSettings(url=url, socket_timeout_s=2.0))
    try:
        assert is_cluster(client)
        key = f"seeds:{uuid.uuid4().hex}"
        client.set(key, b"1", ex=60)
        assert client.get(key) == b"1"
        # the client learned the whole cluster from a live seed, not only the nodes it was given
        assert len(client.get_primaries()) == 3  # type: ignore[attr-defined]
    finally:
        client.close()


def test_a_cluster_with_no_live_seed_fails_with_a_clear_error() -> None:
    url = f"redis+cluster://127.0.0.1:{free_port()},127.0.0.1:{free_port()}"
    with pytest.raises(RedisClusterException, match="at least one reachable node"):
        connect(RedisSettings(url=url, socket_timeout_s=1.0))
