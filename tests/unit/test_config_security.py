"""Kafka SASL/TLS and Redis password/TLS come from settings; secrets never show in a repr or dump."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from processor.config import load_settings
from processor.errors import ConfigError
from processor.state.redis_client import connect

SECURE = {
    "kafka": {
        "bootstrap_servers": "broker:9093",
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_username": "processor",
        "sasl_password": "kafka-secret-1",
        "ssl_ca_location": "/etc/processor/tls/ca.pem",
        "ssl_key_password": "key-secret-2",
        "ssl_certificate_location": "/etc/processor/tls/client.pem",
        "ssl_key_location": "/etc/processor/tls/client.key",
    },
    "redis": {"url": "rediss://redis:6380/0", "username": "proc", "password": "redis-secret-3"},
}


def test_kafka_sasl_and_tls_reach_librdkafka() -> None:
    conf = load_settings(**SECURE).kafka.client_config()
    assert conf["security.protocol"] == "SASL_SSL"
    assert conf["sasl.mechanism"] == "SCRAM-SHA-512"
    assert conf["sasl.password"] == "kafka-secret-1"
    assert conf["ssl.ca.location"] == "/etc/processor/tls/ca.pem"
    assert conf["ssl.certificate.location"] == "/etc/processor/tls/client.pem"
    assert conf["ssl.key.password"] == "key-secret-2"
    assert conf["ssl.endpoint.identification.algorithm"] == "https"


def test_secrets_never_show_in_reprs_or_dumps() -> None:
    settings = load_settings(**SECURE)
    for text in (repr(settings), str(settings), str(settings.model_dump()), str(settings.model_dump(mode="json"))):
        for secret in ("kafka-secret-1", "key-secret-2", "redis-secret-3"):
            assert secret not in text


def test_incomplete_security_settings_are_refused_with_a_reason() -> None:
    with pytest.raises(ConfigError, match="needs sasl_mechanism"):
        load_settings(kafka={"security_protocol": "SASL_SSL"})
    with pytest.raises(ConfigError, match="needs sasl_username and sasl_password"):
        load_settings(kafka={"security_protocol": "SASL_SSL", "sasl_mechanism": "PLAIN"})
    with pytest.raises(ConfigError, match="use SASL_SSL"):
        load_settings(kafka={"sasl_username": "u", "sasl_password": "p", "sasl_mechanism": "PLAIN"})
    with pytest.raises(ConfigError, match="go together"):
        load_settings(kafka={"security_protocol": "SSL", "ssl_certificate_location": "/c.pem"})
    with pytest.raises(ConfigError, match=r"set redis\.password"):
        load_settings(redis={"url": "redis://:hunter2@redis:6379/0"})


def test_redis_password_and_tls_reach_the_client(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    settings = load_settings(
        redis={"url": "redis://redis:6379/0", "tls": True, "tls_ca_file": str(ca), "password": "redis-secret-3"}
    )
    kwargs = connect(settings.redis).connection_pool.connection_kwargs
    assert kwargs["password"] == "redis-secret-3"
    assert kwargs["ssl_ca_certs"] == str(ca)
    assert kwargs["ssl_cert_reqs"] == ssl.CERT_REQUIRED
    plain = connect(load_settings(redis={"url": "redis://redis:6379/0"}).redis).connection_pool.connection_kwargs
    assert "ssl_ca_certs" not in plain and plain["password"] is None
