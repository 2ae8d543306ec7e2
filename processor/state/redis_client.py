"""The Redis client, built from settings in one place (password, TLS and Redis Cluster included).

With ``redis+cluster://host:port`` (or ``redis.cluster: true``) the client is redis-py's
``RedisCluster``, seeded from that node, or from every node of ``redis+cluster://a:1,b:2,c:3``
(a restart then does not depend on one particular node being up). The processor's state code queues Lua scripts on
pipelines as ``EVALSHA`` and lets the pipeline make sure the server has them (``pipe.scripts``);
redis-py's ``ClusterPipeline`` has neither, so the cluster client hands out a thin pipeline that
adds it: scripts are loaded on every primary when registered, and a ``NOSCRIPT`` reply (a replica
promoted by a failover, or a new shard, has an empty script cache) loads them again on every
primary before the error goes up, so the batch that hit it is redone from the last commit.
"""

from __future__ import annotations

import contextlib
import ssl
from typing import Any, cast
from urllib.parse import urlsplit

import redis
from redis.cluster import ClusterNode, RedisCluster
from redis.commands.core import Script
from redis.exceptions import NoScriptError, RedisClusterException

from processor.config import RedisSettings


def connect(settings: RedisSettings) -> redis.Redis:
    password = settings.password.get_secret_value() if settings.password is not None else None
    first, *others = settings.seed_urls
    url = first.replace("+cluster://", "://", 1)
    tls: dict[str, Any] = {}
    if settings.uses_tls:
        if url.startswith("redis://"):
            url = "rediss://" + url.removeprefix("redis://")
        tls = {
            "ssl_cert_reqs": ssl.CERT_REQUIRED if settings.tls_verify else ssl.CERT_NONE,
            "ssl_check_hostname": settings.tls_verify,
            "ssl_ca_certs": str(settings.tls_ca_file) if settings.tls_ca_file else None,
            "ssl_certfile": str(settings.tls_cert_file) if settings.tls_cert_file else None,
            "ssl_keyfile": str(settings.tls_key_file) if settings.tls_key_file else None,
        }
    common: dict[str, Any] = {
        "username": settings.username,
        "password": password,
        "socket_timeout": settings.socket_timeout_s,
        "socket_connect_timeout": settings.socket_timeout_s,
        "decode_responses": False,
        **tls,
    }
    if settings.uses_cluster:
        # The processor only uses commands both clients share (and pipelines, see ClusterClient);
        # one static type keeps every caller unchanged.
        nodes = [urlsplit(seed) for seed in others]
        seeds = [ClusterNode(n.hostname, n.port or 6379) for n in nodes]  # type: ignore[no-untyped-call]
        return cast(redis.Redis, ClusterClient.from_url(url, startup_nodes=seeds, **common))
    return redis.Redis.from_url(url, health_check_interval=30, **common)


def is_cluster(client: object) -> bool:
    return isinstance(client, RedisCluster)


class ClusterClient(RedisCluster):
    """``RedisCluster`` whose pipelines run registered scripts as the plain client's do."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._registered: dict[str, Script] = {}

    def register_script(self, script: Any) -> Script:
        registered = super().register_script(script)
        self._registered[registered.sha] = registered
        # SCRIPT LOAD goes to every primary; if Redis is away at start-up, the first NOSCRIPT loads it
        with contextlib.suppress(redis.RedisError):
            self.script_load(registered.script)
        return registered

    def load_scripts(self) -> None:
        for script in self._registered.values():
            self.script_load(script.script)

    def pipeline(self, transaction: Any = None, shard_hint: Any = None) -> Any:
        return ClusterScriptPipeline(super().pipeline(transaction, shard_hint), self)  # type: ignore[no-untyped-call]


class ClusterScriptPipeline:
    """A ``ClusterPipeline`` that accepts raw ``EVALSHA`` (routed by its first key's slot: every
    script of the processor keeps its keys in one slot) and offers ``scripts`` like ``Pipeline``."""

    def __init__(self, pipe: Any, client: ClusterClient) -> None:
        self._pipe = pipe
        self._client = client
        self.scripts: set[Script] = set()

    def __len__(self) -> int:
        return len(self._pipe)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._pipe, name)

    def execute_command(self, *args: Any, **options: Any) -> ClusterScriptPipeline:
        # ClusterPipeline blocks its evalsha() method, not the command: queued raw, it is routed
        # like any keyed command
        self._pipe.pipeline_execute_command(*args, **options)
        return self

    def execute(self, raise_on_error: bool = True) -> list[Any]:
        try:
            return cast(list[Any], self._pipe.execute(raise_on_error=raise_on_error))
        except NoScriptError:
            self._client.load_scripts()
            raise
        finally:
            self.scripts.clear()


def read_many(client: redis.Redis, keys: list[str]) -> list[Any]:
    """GET of several keys in one round trip per node. MGET must not span slots on a cluster; these
    reads need no atomicity, so there they are split by slot (``mget_nonatomic``)."""
    any_client: object = client  # connect() types a cluster client as redis.Redis
    if isinstance(any_client, RedisCluster):
        return cast(list[Any], any_client.mget_nonatomic(keys))
    return cast(list[Any], client.mget(keys))


#: What "Redis is unavailable" looks like from either client: the cluster client also raises
#: ``RedisClusterException`` (not a ``RedisError``) when no node of the cluster can be reached.
UNAVAILABLE: tuple[type[Exception], ...] = (redis.RedisError, RedisClusterException)
