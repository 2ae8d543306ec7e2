"""The Redis client, built from settings in one place."""

from __future__ import annotations

import redis

from processor.config import RedisSettings


def connect(settings: RedisSettings) -> redis.Redis:
    password = settings.password.get_secret_value() if settings.password is not None else None
    return redis.Redis.from_url(
        settings.url,
        password=password,
        socket_timeout=settings.socket_timeout_s,
        socket_connect_timeout=settings.socket_timeout_s,
        health_check_interval=30,
        decode_responses=False,
    )
