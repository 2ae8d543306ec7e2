"""What each gateway client may send, and whose an event id is.

A token proves who the client is, not what it may say: without scopes a partner could post a
``jira_ticket_created`` (around the webhook's signature) or a ``document_uploaded`` with a made-up
storage link. So ``jira_ticket_created`` comes only through the signed webhook, ``document_uploaded``
only through the upload route, and every other type and ``source`` only as the client's scope
allows (``ingest.client_scopes``).

The processor deduplicates on ``event_id`` alone, across clients. Ids posted on ``/v1/events`` are
therefore namespaced by the gateway, ``<client>/<id>``: a client's retries keep their id, and no
client can take another's (or a Jira ticket's, or an upload's: those carry no client prefix).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import uuid
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from processor.config import ROUTE_SOURCES, ClientScope
from processor.ingest.rejections import Rejection

log = logging.getLogger("processor.ingest.scopes")

#: Event types that only their own route may produce, and which one.
ROUTE_BOUND_TYPES = {"jira_ticket_created": "/v1/webhooks/jira", "document_uploaded": "/v1/documents"}
NAMESPACE_SEPARATOR = "/"


@dataclass(frozen=True)
class Scope:
    client: str
    event_types: frozenset[str]
    sources: frozenset[str]

    @classmethod
    def of(cls, client: str, configured: ClientScope | None, known_types: Collection[str]) -> Scope:
        allowed = set(configured.event_types) if configured and configured.event_types else set(known_types)
        sources = set(configured.sources) if configured and configured.sources else {client}
        return cls(client, frozenset(allowed - set(ROUTE_BOUND_TYPES)), frozenset(sources - set(ROUTE_SOURCES)))

    def check(self, event_type: str, source: object) -> None:
        """Raise 403 when this client may not send an event of this type or source."""
        if event_type not in self.event_types:
            route = ROUTE_BOUND_TYPES.get(event_type)
            where = f"; it comes only through {route}" if route else ""
            raise Rejection(
                403,
                "event_type_not_allowed",
                f"client {self.client!r} may not send {event_type[:100]!r} events{where}",
                field="event_type",
            )
        if source is not None and source not in self.sources:
            raise Rejection(
                403,
                "source_not_allowed",
                f"client {self.client!r} may send source {', '.join(sorted(self.sources))} (or none), "
                f"not {str(source)[:100]!r}",
                field="source",
            )


class Scopes:
    def __init__(self, clients: Collection[str], configured: Mapping[str, ClientScope], known: Collection[str]):
        self._scopes = {name: Scope.of(name, configured.get(name), known) for name in clients}

    def of(self, client: str) -> Scope:
        return self._scopes[client]

    @property
    def clients(self) -> frozenset[str]:
        return frozenset(self._scopes)


def namespaced(client: str, event_id: str) -> str:
    return f"{client}{NAMESPACE_SEPARATOR}{event_id}"


class UploadIds:
    """Upload event ids: an HMAC of client and Idempotency-Key under a server secret (the same
    upload retried gets the same id, and nobody can compute another's), else random."""

    def __init__(self, secret: bytes | None) -> None:
        if secret is None:
            log.warning(
                "ingest.upload_id_secret is not set: upload ids use a random key, so a retried upload "
                "after a restart is not recognised as a duplicate"
            )
        self._key = secret if secret is not None else secrets.token_bytes(32)

    def event_id(self, client: str, idempotency_key: str | None) -> str:
        if not idempotency_key:
            return str(uuid.uuid4())
        digest = hmac.new(self._key, f"{client}\x00{idempotency_key}".encode(), hashlib.sha256).digest()
        return str(uuid.UUID(bytes=digest[:16], version=4))
