"""Configuration: one frozen settings object, and the per-event-type pipeline file.

Environment variables are read here and nowhere else: ``PROCESSOR_`` prefix, nested with ``__``
(``PROCESSOR_KAFKA__BOOTSTRAP_SERVERS``). A YAML config file may supply the same keys; the
environment wins over the file, the file over the defaults.
"""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path
from typing import Any, ClassVar, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from processor.errors import ConfigError

#: The source checkout's root (tests, docs, the chaos and bench harnesses use it). Nothing a
#: running processor reads is found through it: that is the project directory (``project_dir``).
PROJECT_ROOT = Path(__file__).resolve().parent.parent

#: Where a project keeps its pipeline file, first match wins (``config/`` is the layout of the
#: repository's own example project).
PIPELINES_FILE_NAMES = ("pipelines.yaml", "config/pipelines.yaml")

_Frozen = ConfigDict(frozen=True, extra="forbid")


class KafkaSettings(BaseModel):
    model_config = _Frozen

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


def _seed_urls(url: str) -> tuple[str, ...]:
    """``scheme://a:1,b:2/path`` as ``scheme://a:1/path`` and ``scheme://b:2/path``."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return (url,)
    netloc, slash, tail = rest.partition("/")
    user, at, hosts = netloc.rpartition("@")
    return tuple(f"{scheme}://{user}{at}{host}{slash}{tail}" for host in hosts.split(","))


class RedisSettings(BaseModel):
    model_config = _Frozen

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


class TopicsSettings(BaseModel):
    model_config = _Frozen

    #: Input: raw events from producers (JSON or Avro).
    raw: str = "events.raw"
    #: Decisions downstream systems act on.
    scored: str = "events.scored"
    #: Items waiting for a human.
    review: str = "events.review"
    #: Inputs that could not be processed, with the reason and the original bytes.
    quarantine: str = "events.quarantine"
    #: Human labels, for retraining.
    feedback: str = "events.feedback"
    #: Partitions of the input topic when ``processor topics create`` makes it: the most processors that can share the work.
    raw_partitions: int = Field(default=6, ge=1)
    #: Partitions of each output topic when ``processor topics create`` makes it.
    output_partitions: int = Field(default=6, ge=1)
    #: Replicas of every topic ``processor topics create`` makes (3 on a production cluster).
    replication_factor: int = Field(default=1, ge=1)
    #: ``min.insync.replicas`` of every topic ``processor topics create`` makes; the broker's default when
    #: unset. With ``acks=all`` (the processor's producers) a write needs this many replicas: 2 of 3
    #: survives one broker down without losing an acknowledged write.
    min_insync_replicas: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _isr_fits(self) -> TopicsSettings:
        if self.min_insync_replicas is not None and self.min_insync_replicas > self.replication_factor:
            raise ValueError(
                f"min_insync_replicas {self.min_insync_replicas} > replication_factor {self.replication_factor}: "
                "no write could ever succeed"
            )
        return self


class ModelsSettings(BaseModel):
    model_config = _Frozen

    #: Model artifacts: ``<dir>/<event_type>/<version>/`` (LightGBM text model + metadata.json);
    #: ``<project_dir>/models`` when unset.
    dir: Path = Path("models")
    #: How often a running processor re-reads the registry (promote/rollback/shadow take effect
    #: at the next batch boundary after this; the issue asks for under 5 s).
    reload_interval_s: float = Field(default=1.0, gt=0)
    #: Topic for shadow-model comparisons (processor/schemas/output/shadow.avsc); none: metrics only.
    shadow_topic: str | None = None
    #: A batch whose model call takes longer than this is decided by fallback rules instead.
    latency_budget_ms: int = Field(default=2_000, ge=1)


class TrainingSettings(BaseModel):
    """The guards of ``processor train`` (each can be overridden per run with a CLI flag)."""

    model_config = _Frozen

    #: Refuse data whose newest event is older than this (``--allow-stale``).
    max_data_age_days: float = Field(default=30.0, gt=0)
    #: Fewest labelled rows, and fewest of the rarer class, worth a model (``--allow-few-labels``).
    min_labelled_rows: int = Field(default=200, ge=2)
    min_minority_rows: int = Field(default=20, ge=1)
    #: One feature alone with |AUC - 0.5| above this on the training rows is a leak (``--allow-leaky``).
    leakage_auc_margin: float = Field(default=0.48, gt=0, le=0.5)
    #: Train/validation shift (``--allow-shift``): a feature's PSI above this, or positive rates
    #: whose ratio exceeds ``label_shift_ratio`` (with at least 3 standard errors between them).
    shift_psi_threshold: float = Field(default=1.0, gt=0)
    label_shift_ratio: float = Field(default=3.0, gt=1)


class ProcessingSettings(BaseModel):
    model_config = _Frozen

    #: Most messages consumed and committed as one transaction.
    batch_size: int = Field(default=1_000, ge=1, le=100_000)
    #: Longest wait for input when none is queued. A batch never waits to fill: it takes what has
    #: been fetched, so batches grow with the load and an event under light load is not held back.
    batch_timeout_ms: int = Field(default=50, ge=1)
    #: Larger input values are quarantined (``decode/oversized``).
    max_message_bytes: int = Field(default=1_000_000, ge=1_024)
    #: Deeper-nested JSON is quarantined (``decode/too_deeply_nested``).
    max_json_depth: int = Field(default=32, ge=2)
    #: Reorder watermark = max event time seen (per partition and type) minus this.
    allowed_lateness_ms: int = Field(default=5_000, ge=0)
    #: A (partition, type) with no new event for this long releases everything it holds.
    idle_timeout_ms: int = Field(default=2_000, ge=1)
    #: Events timestamped further than this in the future are rejected (and never move the watermark).
    max_future_skew_ms: int = Field(default=86_400_000, ge=0)
    #: How long an event_id is remembered: a copy arriving later than this is processed again.
    dedupe_ttl_s: int = Field(default=7 * 86_400, ge=1)
    #: Dedupe marks are fields of this many hashes per TTL bucket. A hash stays compact (listpack)
    #: up to Redis' ``hash-max-listpack-entries`` (512) fields: size it to at least the events of
    #: one TTL / 512 (docs/capacity.md). Changing it forgets the marks written before.
    dedupe_shards: int = Field(default=4_096, ge=1, le=16_777_216)
    #: History features keep entries this long beyond their window (at least one window), behind
    #: the oldest event of a batch: partitions whose event times run this far apart (a backlog
    #: being caught up) still count each other's events exactly. Longer costs Redis memory.
    history_retention_slack_ms: int = Field(default=6 * 3_600_000, ge=0)
    #: History entries are fields of this many hashes per event type, key field and time bucket
    #: (the longest window plus max(window, slack)). Size it to at least the distinct key values of
    #: one bucket / 512 (docs/capacity.md). Changing it forgets the history written before.
    history_shards: int = Field(default=4_096, ge=1, le=16_777_216)
    #: Kill-switch state assumed at start-up until Redis has been read once.
    killswitch_default: Literal["off", "fallback", "review"] = "off"
    #: How often every processor re-reads the kill-switch keys (propagation well under a second).
    killswitch_poll_ms: int = Field(default=500, ge=50, le=1_000)


class MetricsSettings(BaseModel):
    model_config = _Frozen

    #: Serve ``/metrics`` (Prometheus), ``/healthz`` and ``/readyz`` over HTTP.
    enabled: bool = True
    #: Address to listen on.
    host: str = "0.0.0.0"
    #: Port of the metrics and health endpoint.
    port: int = Field(default=9108, ge=0, le=65_535)


class ClientScope(BaseModel):
    """What one gateway client (API token) may send on ``/v1/events``."""

    model_config = _Frozen

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


#: Sources the gateway itself writes (the Jira webhook, the upload route): never a client's.
ROUTE_SOURCES = ("jira", "gateway")
#: Client names are id namespaces (``<client>/<event_id>``) and metric labels: short and plain.
_CLIENT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


class IngestSettings(BaseModel):
    """The HTTP ingestion gateway (``processor ingest serve``): HTTP in, ``events.raw`` out."""

    model_config = _Frozen

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


class MonitoringSettings(BaseModel):
    """Drift, data-quality and silent-failure monitoring (processor/monitoring/)."""

    model_config = _Frozen

    enabled: bool = True
    #: Drift and data quality compare the last ``drift_window_s`` of scored events per type with
    #: the active model's reference histograms; the window slides in ``window_slots`` steps.
    drift_window_s: float = Field(default=900.0, gt=0)
    window_slots: int = Field(default=15, ge=2, le=600)
    #: Fewer events than this in the window say nothing: drift gauges read NaN (no alert).
    min_window_events: int = Field(default=300, ge=1)
    #: How often the detectors and gauges are recomputed (also while no input arrives).
    evaluate_interval_s: float = Field(default=5.0, gt=0)
    #: Score standard deviation below this over the window: the score distribution collapsed.
    collapsed_score_std: float = Field(default=0.005, ge=0)
    #: A type that averaged at least this many events per minute over ``volume_baseline_s``
    #: and then had none for ``volume_quiet_s`` has stopped flowing.
    volume_baseline_s: float = Field(default=3_600.0, gt=0)
    volume_quiet_s: float = Field(default=300.0, gt=0)
    volume_min_per_minute: float = Field(default=1.0, gt=0)
    #: Quarantine share over ``quarantine_recent_s`` against the share over ``volume_baseline_s``:
    #: a jump is at least ``quarantine_jump_factor`` times the baseline and ``quarantine_jump_min``
    #: above it, over at least ``quarantine_min_events`` inputs.
    quarantine_recent_s: float = Field(default=300.0, gt=0)
    quarantine_jump_factor: float = Field(default=3.0, ge=1)
    quarantine_jump_min: float = Field(default=0.05, ge=0, le=1)
    quarantine_min_events: int = Field(default=100, ge=1)


class ReviewSettings(BaseModel):
    """The human review app (``processor review serve`` / ``processor review next``)."""

    model_config = _Frozen

    host: str = "0.0.0.0"
    port: int = Field(default=8081, ge=0, le=65_535)
    #: Connection limits of the HTTP server (processor/http_limits.py): a connection must send
    #: complete request headers within ``header_timeout_s`` of opening (or of its previous
    #: response), else it is closed; idle keep-alive connections close after
    #: ``keep_alive_timeout_s``; past ``max_connections`` open connections or running requests, new
    #: requests get 503; request heads (line and headers) over ``max_header_bytes`` get 400.
    header_timeout_s: float = Field(default=10.0, gt=0)
    keep_alive_timeout_s: int = Field(default=5, ge=1)
    max_connections: int = Field(default=200, ge=1)
    max_header_bytes: int = Field(default=16 * 1024, ge=1_024)
    #: Reviewer name -> password hash (``processor review hash-password`` makes one). Never a
    #: plain password: the hash is all the service keeps.
    reviewers: dict[str, SecretStr] = Field(default_factory=dict)
    #: Signs the session cookie; give every replica the same one. Unset: a random key per process
    #: (sessions end when it restarts, and replicas do not share them).
    session_secret: SecretStr | None = None
    #: Send the session cookie only over HTTPS; set when the app is served behind TLS.
    cookie_secure: bool = False
    #: Proxies whose ``X-Forwarded-Proto``/``-For`` are believed (comma-separated addresses or
    #: networks, or ``*``). Behind a TLS-terminating proxy (an Ingress) name it here, or the app
    #: thinks it is served over http and refuses every form post of an https page as cross-origin.
    forwarded_allow_ips: str = "127.0.0.1"
    session_max_age_s: int = Field(default=8 * 3600, ge=60)
    #: Items waiting longer than this are flagged overdue and counted once as an SLA breach.
    sla_seconds: int = Field(default=3_600, ge=1)
    #: Kafka consumer group of the app's ingest (reads the review and feedback topics).
    group_id: str = "processor-review"
    #: Transactional id of the decision producer; defaults to ``<group_id>-<hostname>``. Give each
    #: replica its own, stable across restarts, so a restarted replica fences its predecessor.
    transactional_id: str | None = None
    #: A decision claim lasts this long; a replica that dies mid-decision frees it after this.
    #: Longer than a Kafka transaction can take, so a crashed decision's commit (if any) is known
    #: before anyone may decide that event again.
    claim_ttl_s: int = Field(default=120, ge=10)
    #: Queue priority by review reason (lower first; the part before ``:`` of the reason is
    #: matched, then the full reason); unknown reasons get ``default_priority``. Age orders
    #: items of the same priority, oldest first.
    priorities: dict[str, int] = Field(
        default_factory=lambda: {
            "rule": 0,
            "kill_switch": 1,
            "feature_out_of_range": 2,
            "fallback": 3,
            "confidence_band": 4,
        }
    )
    default_priority: int = 5
    #: Label written to events.feedback for each decision a reviewer can make, per event type.
    #: Decisions come from the type's bands; a decision not named here is labelled with the
    #: type's ``positive_label`` when it is the top band's decision, else ``not_<positive_label>``.
    labels: dict[str, dict[str, str]] = Field(
        default_factory=lambda: {
            "user_signed_up": {"block": "fraud", "approve": "legit"},
            "jira_ticket_created": {"triage": "not_actionable", "accept": "actionable"},
            "document_uploaded": {"reject": "reject", "accept": "accept"},
        }
    )
    #: Longest note a reviewer may attach.
    max_note_chars: int = Field(default=2_000, ge=0, le=100_000)
    #: Shown per field on the item page before the rest is folded away (hostile payloads are huge).
    display_chars: int = Field(default=4_000, ge=100)
    #: Sign-in attempts per reviewer name from one client address within ``login_lockout_s``;
    #: past it that name is locked for that address only, so nobody can lock a reviewer out by
    #: typing their name from elsewhere. Attempts are counted before the password is checked.
    max_failed_logins: int = Field(default=5, ge=1)
    #: Sign-in attempts from one client address (any names) within ``login_lockout_s``.
    max_logins_per_address: int = Field(default=30, ge=1)
    #: Sign-in attempts for one reviewer name from all addresses within ``login_lockout_s``: caps a
    #: guesser who spreads over many addresses (a correct password resets it).
    max_logins_per_name: int = Field(default=100, ge=1)
    login_lockout_s: int = Field(default=300, ge=1)
    #: Label ``processor_review_decisions_total`` with reviewer names. ``/metrics`` answers without
    #: sign-in, so by default it does not list who reviews (the label is ``any``).
    metrics_reviewer_names: bool = False

    @field_validator("session_secret", mode="before")
    @classmethod
    def _empty_secret_is_unset(cls, value: Any) -> Any:
        # compose passes ``${REVIEW_SESSION_SECRET:-}``: empty means "a random key per process"
        return None if value == "" else value

    def effective_transactional_id(self) -> str:
        return self.transactional_id or f"{self.group_id}-{socket.gethostname()}"


class StatusSettings(BaseModel):
    """Where ``processor status`` reads the operator's screen from (besides Redis)."""

    model_config = _Frozen

    #: ``/metrics`` of every processor of the deployment (one per process when scaled out): summed.
    processor_urls: list[str] = Field(default_factory=lambda: ["http://localhost:9108/metrics"], min_length=1)
    #: ``/metrics`` of the review app (review backlog); empty to leave the backlog out.
    review_url: str = "http://localhost:8081/metrics"
    #: Per HTTP request and per Redis call.
    timeout_s: float = Field(default=3.0, gt=0)
    #: Two scrapes this far apart give the rates (throughput); 0 shows totals only.
    interval_s: float = Field(default=2.0, ge=0, le=60)


class QuarantineSettings(BaseModel):
    model_config = _Frozen

    #: How long ``processor quarantine replay`` remembers that it replayed a record (and so skips it).
    replay_ledger_ttl_s: int = Field(default=30 * 86_400, ge=60)


class SchemaRegistrySettings(BaseModel):
    """A Confluent-compatible schema registry (Confluent, Apicurio ``/apis/ccompat/v7``, Karapace)."""

    model_config = _Frozen

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


class OutputsSettings(BaseModel):
    model_config = _Frozen

    #: ``json`` (UTF-8 objects) or ``avro-registry``: the scored, review and quarantine topics as
    #: Confluent-framed Avro (magic 0, 4-byte schema id, Avro binary) of ``processor/schemas/output/*.avsc`` (package data),
    #: registered in ``schema_registry`` (which must then be set).
    format: Literal["json", "avro-registry"] = "json"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="PROCESSOR_",
        env_nested_delimiter="__",
        frozen=True,
        extra="forbid",
    )

    kafka: KafkaSettings = KafkaSettings()
    redis: RedisSettings = RedisSettings()
    topics: TopicsSettings = TopicsSettings()
    models: ModelsSettings = ModelsSettings()
    processing: ProcessingSettings = ProcessingSettings()
    training: TrainingSettings = TrainingSettings()
    metrics: MetricsSettings = MetricsSettings()
    ingest: IngestSettings = IngestSettings()
    monitoring: MonitoringSettings = MonitoringSettings()
    quarantine: QuarantineSettings = QuarantineSettings()
    review: ReviewSettings = ReviewSettings()
    status: StatusSettings = StatusSettings()
    schema_registry: SchemaRegistrySettings = SchemaRegistrySettings()
    outputs: OutputsSettings = OutputsSettings()
    #: The project a team owns: ``pipelines.yaml``, ``schemas/input/*.avsc``, ``features/*.py``,
    #: ``models/`` (``processor init`` writes one). ``--project DIR`` sets it; the current
    #: directory when unset. The paths below default to their place inside it.
    project_dir: Path = Field(default_factory=Path.cwd)
    #: Input Avro schemas: ``input/<event_type>.v<N>.avsc``; ``<project_dir>/schemas`` when unset.
    #: (The output schemas ship inside the package.)
    schemas_dir: Path = Path("schemas")
    #: Per-event-type pipeline configuration, validated at start-up; ``<project_dir>/pipelines.yaml``
    #: (or ``<project_dir>/config/pipelines.yaml``) when unset.
    pipelines_file: Path = Path("pipelines.yaml")
    #: Feature modules named by a bare name in the pipeline file: ``<name>.py`` in this folder;
    #: ``<project_dir>/features`` when unset.
    features_dir: Path = Path("features")
    #: DEBUG, INFO, WARNING, ERROR.
    log_level: str = "INFO"
    #: ``json``: one object per line (ts, level, logger, message, event_id, offset, model_version...),
    #: for log shippers; ``text``: for people; ``auto``: json for the services (``run``, ``ingest
    #: serve``, ``review serve``), text for the interactive commands. Payloads and secrets are never logged.
    log_format: Literal["auto", "json", "text"] = "auto"

    # Set by load_settings() before construction; a class attribute because pydantic-settings
    # builds its sources from the class. ClassVar, or pydantic makes it a private attribute whose
    # class-level value is a descriptor, not None, and a plain Settings() fails.
    _config_file: ClassVar[Path | None] = None

    @model_validator(mode="after")
    def _inside_the_project(self) -> Settings:
        # Relative paths are the project's: a default never points inside site-packages, and
        # the same settings work from any working directory. Frozen, so set through object.
        project = self.project_dir.expanduser().resolve()
        object.__setattr__(self, "project_dir", project)
        pipelines = self.pipelines_file
        if pipelines == Path("pipelines.yaml"):
            found = [project / name for name in PIPELINES_FILE_NAMES if (project / name).is_file()]
            pipelines = found[0] if found else project / pipelines
        object.__setattr__(self, "pipelines_file", project / pipelines)
        object.__setattr__(self, "schemas_dir", project / self.schemas_dir)
        object.__setattr__(self, "features_dir", project / self.features_dir)
        if not self.models.dir.is_absolute():
            object.__setattr__(self, "models", self.models.model_copy(update={"dir": project / self.models.dir}))
        if not self.ingest.upload_dir.is_absolute():
            upload_dir = project / self.ingest.upload_dir
            object.__setattr__(self, "ingest", self.ingest.model_copy(update={"upload_dir": upload_dir}))
        return self

    @model_validator(mode="after")
    def _registry_outputs_need_a_registry(self) -> Settings:
        if self.outputs.format == "avro-registry" and self.schema_registry.url is None:
            raise ValueError("outputs.format avro-registry needs schema_registry.url")
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = cls._config_file
        if config_file is not None:
            sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=config_file))
        return tuple(sources)


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Build the settings from overrides, the environment and an optional YAML file."""
    if config_file is not None and not config_file.is_file():
        raise ConfigError("config_file_missing", f"config file {config_file} does not exist")
    Settings._config_file = config_file
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError("invalid_settings", _format_validation_error(exc)) from exc
    except (yaml.YAMLError, ValueError, TypeError) as exc:  # an unreadable or non-mapping YAML file
        raise ConfigError("invalid_settings", f"{config_file}: {exc}") from exc
    finally:
        Settings._config_file = None


def project_override(args: Any) -> dict[str, Any]:
    """``--project DIR`` of a command line as a settings override (it wins over the environment)."""
    project = getattr(args, "project", None)
    return {} if project is None else {"project_dir": project}


def _plain(value: Any) -> Any:
    """JSON for what json.dumps does not know: secrets (a reviewer's hash in a mapping), paths."""
    return value.get_secret_value() if isinstance(value, SecretStr) else str(value)


def settings_to_env(settings: Settings) -> dict[str, str]:
    """Every setting as the ``PROCESSOR_*`` variables that reproduce it in a child process.

    Nested models become ``__``-joined names, lists and mappings JSON, secrets their value (the
    environment of a child is as private as this process's memory); unset optionals are left out.
    """
    env: dict[str, str] = {}

    def put(name: str, value: Any) -> None:
        if value is None:
            return
        if isinstance(value, BaseModel):
            for field in type(value).model_fields:
                put(f"{name}__{field.upper()}", getattr(value, field))
        elif isinstance(value, SecretStr):
            env[name] = value.get_secret_value()
        elif isinstance(value, bool):
            env[name] = "true" if value else "false"
        elif isinstance(value, dict | list):
            env[name] = json.dumps(value, default=_plain)
        else:
            env[name] = str(value)

    for field in Settings.model_fields:
        put(f"PROCESSOR_{field.upper()}", getattr(settings, field))
    return env


# --------------------------------------------------------------------------------------------
# Per-event-type pipeline configuration (config/pipelines.yaml)
# --------------------------------------------------------------------------------------------


class FieldCheck(BaseModel):
    """A semantic check on one field; every key that is set must hold."""

    model_config = _Frozen

    field: str
    min: float | None = None
    max: float | None = None
    pattern: str | None = None
    one_of: list[str] | None = None
    max_length: int | None = Field(default=None, ge=0)

    @field_validator("pattern")
    @classmethod
    def _pattern_compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"pattern does not compile: {exc}") from exc
        return value


class Band(BaseModel):
    """Scores at or above ``min_score`` (and below the next band up) get this decision."""

    model_config = _Frozen

    min_score: float = Field(ge=0.0, le=1.0)
    decision: str
    category: str | None = None


class ReviewBand(BaseModel):
    """Scores in ``[low, high)`` are not confident enough to act on: a human decides."""

    model_config = _Frozen

    low: float = Field(ge=0.0, le=1.0)
    high: float = Field(ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _ordered(self) -> ReviewBand:
        if self.low > self.high:
            raise ValueError(f"low ({self.low}) must not exceed high ({self.high})")
        return self


class FallbackPolicy(BaseModel):
    """What happens when no model can score (no artifact, model error, latency budget blown)."""

    model_config = _Frozen

    decision: str = "review"
    category: str | None = "unscored"
    route: Literal["scored", "review"] = "review"


class DecisionPolicy(BaseModel):
    model_config = _Frozen

    bands: list[Band] = Field(min_length=1)
    review_band: ReviewBand | None = None
    fallback: FallbackPolicy = FallbackPolicy()

    @model_validator(mode="after")
    def _covers_zero(self) -> DecisionPolicy:
        if not any(b.min_score == 0.0 for b in self.bands):
            raise ValueError("bands must include one with min_score 0.0 so every score gets a decision")
        return self

    def sorted_bands(self) -> list[Band]:
        return sorted(self.bands, key=lambda b: b.min_score, reverse=True)


class EventTypeConfig(BaseModel):
    model_config = _Frozen

    #: Schema base name in schemas/input (``<schema>.v<N>.avsc``); defaults to the event type.
    schema_name: str | None = Field(default=None, alias="schema")
    #: Feature module in processor.model.features; defaults to the event type.
    features: str | None = None
    validation: Literal["strict", "tolerant"] = "strict"
    late_policy: Literal["flag", "quarantine"] = "flag"
    checks: list[FieldCheck] = Field(default_factory=list)
    decision: DecisionPolicy
    #: Rule overrides, in evaluation order (first match wins); compiled and checked at start-up
    #: against the schema and the feature module (processor/decide/rules.py).
    rules: list[dict[str, Any]] = Field(default_factory=list)
    #: Send an event to review (``review_reason=feature_out_of_range:<feature>``) when one of its
    #: features lies outside the range the active model saw in training: the model is guessing.
    escalate_out_of_range: bool = False
    #: The label the model predicts (positive class) in training data.
    positive_label: str = "positive"
    #: Which model ``processor train`` saves and the worker serves: LightGBM, or a logistic
    #: regression applied with numpy (for jira_ticket_created, ``make eval``'s rolling folds decide).
    model: Literal["lightgbm", "logistic_regression"] = "lightgbm"


class PipelinesConfig(BaseModel):
    model_config = _Frozen

    event_types: dict[str, EventTypeConfig] = Field(min_length=1)


def load_pipelines(path: Path) -> PipelinesConfig:
    """Read and validate the pipeline file; errors name the file and the bad field."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(
            "pipelines_file_missing",
            f"pipeline config {path} does not exist: run from your project directory, or name it with "
            "--project DIR or PROCESSOR_PROJECT_DIR (`processor init DIR --event-type NAME` writes a new one)",
        ) from exc
    except yaml.YAMLError as exc:
        raise ConfigError("pipelines_file_invalid", f"{path} is not valid YAML: {exc}") from exc
    try:
        return PipelinesConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError("pipelines_file_invalid", f"{path}: {_format_validation_error(exc)}") from exc


def _format_validation_error(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "<root>"
        parts.append(f"{loc}: {err['msg']}")
    return "; ".join(parts)
