"""Kafka: the brokers, the consumer group, transactions and the client security settings."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr, model_validator

from processor.config.base import FROZEN


class KafkaSettings(BaseModel):
    model_config = FROZEN

    #: Comma-separated ``host:port`` list of brokers.
    bootstrap_servers: str = "localhost:9092"
    #: Consumer group: every processor of one deployment shares it; Kafka spreads the partitions over them.
    group_id: str = "processor"
    #: Stable per process so a restarted process fences its crashed predecessor at once;
    #: defaults to ``<group_id>-<hostname>``. Give each process of a scaled-out group its own.
    transactional_id: str | None = None
    #: The broker aborts a transaction left open longer than this (a crashed process's last batch).
    transaction_timeout_ms: int = Field(default=60_000, ge=1_000)
    #: Static group membership (``group.instance.id`` = the transactional id): a process restarted
    #: after a crash takes its partitions straight back instead of waiting out the session timeout.
    static_membership: bool = True
    #: A member silent for this long leaves the group and its partitions move.
    session_timeout_ms: int = Field(default=15_000, ge=1_000)
    #: PLAINTEXT, SSL (TLS), SASL_PLAINTEXT, or SASL_SSL (SASL over TLS: what production should use).
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    #: With SASL_*: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 (username and password required), OAUTHBEARER, GSSAPI.
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER", "GSSAPI"] | None = None
    #: SASL user (PLAIN / SCRAM).
    sasl_username: str | None = None
    #: A secret: masked in logs and reprs, passed only to librdkafka.
    sasl_password: SecretStr | None = None
    #: With SSL / SASL_SSL: CA bundle that signed the brokers' certificates (PEM); the system store when unset.
    ssl_ca_location: Path | None = None
    #: Client certificate and key (PEM) for mutual TLS.
    ssl_certificate_location: Path | None = None
    ssl_key_location: Path | None = None
    #: A secret: the passphrase of ``ssl_key_location``, when the key is encrypted.
    ssl_key_password: SecretStr | None = None
    #: Check that the broker's certificate names the host connected to; turn off only for test CAs.
    ssl_verify_hostname: bool = True
    #: Extra librdkafka properties passed to every client, for what this object does not name.
    #: Not secret-typed: put passwords in the fields above, never here.
    extra: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _security_complete(self) -> KafkaSettings:
        sasl = self.security_protocol.startswith("SASL_")
        if sasl and self.sasl_mechanism is None:
            raise ValueError(f"security_protocol {self.security_protocol} needs sasl_mechanism")
        needs_password = self.sasl_mechanism in ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
        if sasl and needs_password and (not self.sasl_username or self.sasl_password is None):
            raise ValueError(f"sasl_mechanism {self.sasl_mechanism} needs sasl_username and sasl_password")
        if not sasl and (self.sasl_mechanism or self.sasl_username or self.sasl_password is not None):
            raise ValueError(f"SASL settings are set but security_protocol is {self.security_protocol}: use SASL_SSL")
        if (self.ssl_certificate_location is None) != (self.ssl_key_location is None):
            raise ValueError("ssl_certificate_location and ssl_key_location go together (mutual TLS)")
        return self

    def effective_transactional_id(self) -> str:
        return self.transactional_id or f"{self.group_id}-{socket.gethostname()}"

    def client_config(self) -> dict[str, Any]:
        conf: dict[str, Any] = {
            "bootstrap.servers": self.bootstrap_servers,
            "security.protocol": self.security_protocol,
        }
        if self.sasl_mechanism:
            conf["sasl.mechanism"] = self.sasl_mechanism
        if self.sasl_username:
            conf["sasl.username"] = self.sasl_username
        if self.sasl_password is not None:
            conf["sasl.password"] = self.sasl_password.get_secret_value()
        if self.security_protocol in ("SSL", "SASL_SSL"):
            if self.ssl_ca_location is not None:
                conf["ssl.ca.location"] = str(self.ssl_ca_location)
            if self.ssl_certificate_location is not None and self.ssl_key_location is not None:
                conf["ssl.certificate.location"] = str(self.ssl_certificate_location)
                conf["ssl.key.location"] = str(self.ssl_key_location)
            if self.ssl_key_password is not None:
                conf["ssl.key.password"] = self.ssl_key_password.get_secret_value()
            conf["ssl.endpoint.identification.algorithm"] = "https" if self.ssl_verify_hostname else "none"
        conf.update(self.extra)
        return conf
