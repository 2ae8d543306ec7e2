"""The Redis client, built from settings in one place (password and TLS included)."""

from __future__ import annotations

import ssl
from typing import Any

import redis

from processor.config import RedisSettings


def connect(settings: RedisSettings) -> redis.Redis:
    password = settings.password.get_secret_value() if settings.password is not None else None
    url = settings.url
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
    return redis.Redis.from_url(
        url,
        username=settings.username,
        password=password,
        socket_timeout=settings.socket_timeout_s,
        socket_connect_timeout=settings.socket_timeout_s,
        health_check_interval=30,
        decode_responses=False,
        **tls,
    )
