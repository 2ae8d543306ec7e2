"""The state stores' tests get a Redis database of their own, emptied before each test.

They look at what the stores wrote (SCAN over their prefix, MEMORY USAGE, encodings): on the
shared database 0 a SCAN walks every key the other tests left behind (millions after a few runs,
17-19 s a test), and a byte count would include nothing but this test's keys only by luck. The
stores are given this client directly; no processor process of these tests talks to Redis.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

_OWN_DATABASE = 12  # 13: the data-loss test; 14: the review throttle and queue counters


@pytest.fixture
def redis_client(redis_client: redis.Redis) -> Iterator[redis.Redis]:
    """The shared client's server, this directory's own database."""
    pool = redis_client.connection_pool.connection_kwargs
    client = redis.Redis(host=pool["host"], port=pool["port"], db=_OWN_DATABASE)
    client.flushdb()
    yield client
    client.close()
