"""The human review app (``processor review serve``)."""

from __future__ import annotations

import socket
from typing import Any

from pydantic import BaseModel, Field, SecretStr, field_validator

from processor.config.base import FROZEN


class ReviewSettings(BaseModel):
    """The human review app (``processor review serve`` / ``processor review next``)."""

    model_config = FROZEN

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
