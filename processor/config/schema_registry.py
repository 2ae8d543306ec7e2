"""The Confluent-compatible schema registry."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, SecretStr, field_validator

from processor.config.base import FROZEN


class SchemaRegistrySettings(BaseModel):
    """A Confluent-compatible schema registry (Confluent, Apicurio ``/apis/ccompat/v7``, Karapace)."""

    model_config = FROZEN

    #: Base URL of the Confluent-compatible API (``http://host:8085/apis/ccompat/v7`` for Apicurio).
    #: Unset: no registry; Confluent-framed input is quarantined as ``decode/schema_registry_not_configured``.
    url: str | None = None
    #: HTTP basic-auth user, when the registry wants one.
    username: str | None = None
    #: A secret: masked in logs and reprs.
    password: SecretStr | None = None
    #: How schemas map to subjects: ``record`` (RecordNameStrategy: the record's full name, one subject
    #: per event type, the choice when several types share ``events.raw``) or ``topic``
    #: (TopicNameStrategy: ``<topic>-value``, one subject per topic). Decoding does not depend on it
    #: (a schema id names its schema); ``processor schemas register`` and ``avro-registry`` outputs do.
    subject_strategy: Literal["topic", "record"] = "record"
    #: Compatibility level ``processor schemas register`` sets on the subjects it creates.
    compatibility: Literal[
        "BACKWARD", "BACKWARD_TRANSITIVE", "FORWARD", "FORWARD_TRANSITIVE", "FULL", "FULL_TRANSITIVE", "NONE"
    ] = "BACKWARD"
    #: One HTTP request to the registry fails after this long (and the batch waits and retries).
    timeout_s: float = Field(default=5.0, gt=0)
    #: Longest wait between two attempts while the registry is unreachable.
    max_backoff_s: float = Field(default=10.0, gt=0)

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        from urllib.parse import urlsplit

        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{value!r} is not an http:// or https:// URL")
        if parts.password:
            raise ValueError("the URL holds a password: set schema_registry.password (a secret) instead")
        return value.rstrip("/")
