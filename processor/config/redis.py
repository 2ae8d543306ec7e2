"""Redis: where the state lives (a single server or a Redis Cluster), and how to reach it."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator

from processor.config.base import FROZEN


def _seed_urls(url: str) -> tuple[str, ...]:
    """``scheme://a:1,b:2/path`` as ``scheme://a:1/path`` and ``scheme://b:2/path``."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return (url,)
    netloc, slash, tail = rest.partition("/")
    user, at, hosts = netloc.rpartition("@")
    return tuple(f"{scheme}://{user}{at}{host}{slash}{tail}" for host in hosts.split(","))


class RedisSettings(BaseModel):
    model_config = FROZEN

    #: ``redis://host:port/db``, or ``rediss://`` for TLS. No password here: the URL is not a secret.
    #: ``redis+cluster://host:port`` (``rediss+cluster://`` with TLS) names a node of a Redis Cluster;
    #: name several, comma-separated (``redis+cluster://a:7000,b:7000,c:7000``), and the processor
    #: starts as long as any one of them answers.
    url: str = "redis://localhost:6379/0"
    #: Use the Redis Cluster client (the same as a ``redis+cluster://`` URL): the URL names its nodes.
    cluster: bool = False
    #: ACL user (Redis 6+); the default user when unset.
    username: str | None = None
    #: A secret: masked in logs and reprs.
    password: SecretStr | None = None
    #: Every key this processor writes starts with this prefix.
    key_prefix: str = "proc:"
    #: A Redis call that takes longer fails (and is retried; the batch is redone from the last commit).
    socket_timeout_s: float = Field(default=5.0, gt=0)
    #: TLS even with a ``redis://`` URL (the same as writing ``rediss://``).
    tls: bool = False
    #: CA bundle (PEM) that signed the server's certificate; the system store when unset.
    tls_ca_file: Path | None = None
    #: Client certificate and key (PEM) for mutual TLS.
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None
    #: Verify the server's certificate (and host name); turn off only for test CAs.
    tls_verify: bool = True

    @field_validator("url")
    @classmethod
    def _no_password_in_url(cls, value: str) -> str:
        from urllib.parse import urlsplit

        parts = urlsplit(value)
        if parts.scheme not in ("redis", "rediss", "unix", "redis+cluster", "rediss+cluster"):
            raise ValueError(
                f"scheme {parts.scheme!r} is not redis://, rediss://, unix://, redis+cluster:// or rediss+cluster://"
            )
        if parts.password:
            raise ValueError("the URL holds a password: set redis.password (a secret, never logged) instead")
        for seed in _seed_urls(value):
            seed_parts = urlsplit(seed)
            try:
                seed_parts.port  # noqa: B018 (parsing it is the check)
            except ValueError as exc:
                raise ValueError(f"{seed_parts.netloc!r} in the URL is not host:port ({exc})") from exc
            if not seed_parts.hostname and seed_parts.scheme != "unix":
                raise ValueError(f"the URL names no host: {value!r}")
        return value

    @model_validator(mode="after")
    def _several_hosts_need_the_cluster_client(self) -> RedisSettings:
        if len(self.seed_urls) > 1 and not self.uses_cluster:
            raise ValueError(
                "the URL names several hosts: only a Redis Cluster takes a list (redis+cluster:// or cluster: true)"
            )
        return self

    @property
    def seed_urls(self) -> tuple[str, ...]:
        """The URL once per host it names (one unless a Redis Cluster lists several seed nodes)."""
        return _seed_urls(self.url)

    @property
    def uses_tls(self) -> bool:
        return self.tls or self.url.startswith(("rediss://", "rediss+cluster://"))

    @property
    def uses_cluster(self) -> bool:
        return self.cluster or self.url.startswith(("redis+cluster://", "rediss+cluster://"))
