"""The HTTP ingestion gateway (``processor ingest serve``) and what each of its clients may send."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator

from processor.config.base import FROZEN

#: Sources the gateway itself writes (the Jira webhook, the upload route): never a client's.
ROUTE_SOURCES = ("jira", "gateway")
#: Client names are id namespaces (``<client>/<event_id>``) and metric labels: short and plain.
_CLIENT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


class ClientScope(BaseModel):
    """What one gateway client (API token) may send on ``/v1/events``."""

    model_config = FROZEN

    #: Event types it may post; empty: every type a pipeline knows except those bound to their own
    #: route (``jira_ticket_created`` comes only through the signed webhook, ``document_uploaded``
    #: only through the upload route).
    event_types: tuple[str, ...] = ()
    #: Values its events may carry in ``source`` (or leave it out); empty: the client's own name.
    sources: tuple[str, ...] = ()

    @field_validator("sources")
    @classmethod
    def _not_a_route_source(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        taken = set(value) & set(ROUTE_SOURCES)
        if taken:
            raise ValueError(f"source {sorted(taken)[0]!r} belongs to a gateway route, no client may claim it")
        return value


class IngestSettings(BaseModel):
    """The HTTP ingestion gateway (``processor ingest serve``): HTTP in, ``events.raw`` out."""

    model_config = FROZEN

    host: str = "0.0.0.0"
    port: int = Field(default=8080, ge=0, le=65_535)
    #: Connection limits of the HTTP server (processor/http_limits.py): a connection must send
    #: complete request headers within ``header_timeout_s`` of opening (or of its previous
    #: response), else it is closed; idle keep-alive connections close after
    #: ``keep_alive_timeout_s``; past ``max_connections`` open connections or running requests, new
    #: requests get 503; request heads (line and headers) over ``max_header_bytes`` get 400.
    header_timeout_s: float = Field(default=10.0, gt=0)
    keep_alive_timeout_s: int = Field(default=5, ge=1)
    max_connections: int = Field(default=1000, ge=1)
    max_header_bytes: int = Field(default=16 * 1024, ge=1_024)
    #: API tokens by client name, each as ``sha256:<64 hex digits>`` of the token (never the token:
    #: ``processor ingest hash-token`` prints the line). No tokens means every authenticated route
    #: answers 401: the gateway fails closed.
    api_tokens: dict[str, str] = Field(default_factory=dict)
    #: What each client may send (by the names of ``api_tokens``); a client not named here may
    #: send every type not bound to a route, with ``source`` its own name (or none).
    client_scopes: dict[str, ClientScope] = Field(default_factory=dict)
    #: Keys the ids of uploads (HMAC of client and Idempotency-Key), so nobody can predict one;
    #: give every replica the same. Unset: a random key per process (a retry of an upload after a
    #: restart gets a new id, so the processor cannot drop it as a duplicate).
    upload_id_secret: SecretStr | None = None
    #: Shared secret of the Jira webhook (HMAC-SHA256 of the body in ``X-Hub-Signature``); unset
    #: means every webhook call is rejected.
    jira_webhook_secret: SecretStr | None = None
    #: Jira Cloud's default priorities, mapped onto the Blocker..Trivial scale the pipeline checks.
    jira_priority_aliases: dict[str, str] = Field(
        default_factory=lambda: {
            "Highest": "Blocker",
            "High": "Critical",
            "Medium": "Major",
            "Low": "Minor",
            "Lowest": "Trivial",
        }
    )
    #: Uploaded documents are stored here, content-addressed by sha256.
    upload_dir: Path = Path("data/uploads")
    max_event_bytes: int = Field(default=1_000_000, ge=1_024)
    max_batch_bytes: int = Field(default=10_000_000, ge=1_024)
    max_batch_items: int = Field(default=1_000, ge=1)
    max_webhook_bytes: int = Field(default=2_000_000, ge=1_024)
    #: A signed Jira webhook whose ``timestamp`` is further than this from now (either way) is
    #: refused (422 ``webhook_stale``): a captured delivery cannot be replayed once the processor's
    #: dedupe memory (``processing.dedupe_ttl_s``) has forgotten it. Keep it below that TTL.
    webhook_max_age_s: int = Field(default=86_400, ge=60)
    max_upload_bytes: int = Field(default=50 * 1024 * 1024, ge=1_024)
    max_json_depth: int = Field(default=32, ge=2)
    #: JSON bodies up to this size are parsed and checked on the event loop (microseconds); larger
    #: ones in a child process limited by ``parse_cpu_s``, ``parse_memory_bytes`` and
    #: ``parse_timeout_s`` (past a limit: 422 ``body_too_complex``), so one body cannot stall
    #: every other request.
    inline_parse_bytes: int = Field(default=64 * 1024, ge=0)
    parse_cpu_s: float = Field(default=5.0, gt=0)
    parse_memory_bytes: int = Field(default=1024 * 1024 * 1024, ge=64 * 1024 * 1024)
    parse_timeout_s: float = Field(default=15.0, gt=0)
    #: Uploaded documents are inspected (magic bytes, PDF structure) in a child process with these
    #: limits; past one the answer is 422 ``document_too_complex`` and nothing is recorded.
    document_cpu_s: float = Field(default=10.0, gt=0)
    document_memory_bytes: int = Field(default=768 * 1024 * 1024, ge=64 * 1024 * 1024)
    document_timeout_s: float = Field(default=30.0, gt=0)
    #: Child processes (parsing and inspection) running at once; more requests wait their turn.
    max_parallel_workers: int = Field(default=2, ge=1)
    #: Bytes each client may upload per ``upload_quota_window_s`` (per replica); 0: no quota.
    #: Past it: 429 ``upload_quota_exceeded``.
    upload_quota_bytes: int = Field(default=2 * 1024 * 1024 * 1024, ge=0)
    upload_quota_window_s: float = Field(default=3_600.0, gt=0)
    #: Messages handed to the producer but not yet acknowledged by Kafka; beyond it requests get
    #: 503 + Retry-After instead of growing memory without bound.
    max_in_flight: int = Field(default=10_000, ge=1)
    #: How long a request waits for Kafka's acknowledgement before answering 503 (retry is safe:
    #: event ids are stable, the processor deduplicates).
    delivery_timeout_s: float = Field(default=10.0, gt=0)
    retry_after_s: int = Field(default=2, ge=1)
    #: A request body (events, webhook, upload) must arrive within this; a client trickling it
    #: gets 408 ``body_timeout`` instead of holding the request open.
    body_timeout_s: float = Field(default=60.0, gt=0)

    @field_validator("jira_webhook_secret", "upload_id_secret", mode="before")
    @classmethod
    def _empty_secret_is_unset(cls, value: Any) -> Any:
        # compose passes ``${JIRA_WEBHOOK_SECRET:-}``: an empty key would let anyone sign
        return None if value == "" else value

    @model_validator(mode="after")
    def _scopes_name_clients(self) -> IngestSettings:
        unknown = set(self.client_scopes) - set(self.api_tokens)
        if unknown and self.api_tokens:
            raise ValueError(f"client_scopes names clients without a token: {', '.join(sorted(unknown))}")
        return self

    @field_validator("api_tokens")
    @classmethod
    def _hashed_tokens(cls, value: dict[str, str]) -> dict[str, str]:
        for name, digest in value.items():
            if not _CLIENT_NAME.fullmatch(name):
                raise ValueError(f"client name {name[:80]!r} must be 1-64 letters, digits, '_', '.' or '-'")
            if not re.fullmatch(r"sha256:[0-9a-f]{64}", digest):
                raise ValueError(
                    f"token {name!r} must be 'sha256:<64 lowercase hex digits>' (a hash, never the token itself)"
                )
        return value
