"""Metrics of the ingestion gateway, built by one factory on a given registry.

Label sets are bounded: ``route`` is one of the gateway's routes (or ``other``), ``reason`` a
code from this package, ``webhook_event`` one of the Jira events named here (or ``other``).
"""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

ROUTES = frozenset({"/v1/events", "/v1/webhooks/jira", "/v1/documents", "/healthz", "/readyz", "/metrics"})

#: Jira webhook events worth telling apart on a dashboard; anything else is ``other``.
KNOWN_WEBHOOK_EVENTS = frozenset(
    {
        "jira:issue_created",
        "jira:issue_updated",
        "jira:issue_deleted",
        "comment_created",
        "comment_updated",
        "comment_deleted",
        "worklog_updated",
        "issuelink_created",
        "issuelink_deleted",
        "attachment_created",
        "attachment_deleted",
    }
)


def route_label(path: str) -> str:
    return path if path in ROUTES else "other"


def webhook_event_label(name: object) -> str:
    return name if isinstance(name, str) and name in KNOWN_WEBHOOK_EVENTS else "other"


@dataclass(frozen=True)
class IngestMetrics:
    registry: CollectorRegistry
    requests: Counter
    request_seconds: Histogram
    rejections: Counter
    events_accepted: Counter
    produce_seconds: Histogram
    produce_failures: Counter
    in_flight: Gauge
    webhooks_ignored: Counter
    documents: Counter
    id_collisions: Counter

    @classmethod
    def create(cls, registry: CollectorRegistry | None = None) -> IngestMetrics:
        r = registry if registry is not None else CollectorRegistry()
        return cls(
            registry=r,
            requests=Counter(
                "ingest_requests_total", "HTTP requests by route and status code.", ["route", "status"], registry=r
            ),
            request_seconds=Histogram(
                "ingest_request_seconds",
                "HTTP request duration by route.",
                ["route"],
                buckets=_LATENCY_BUCKETS,
                registry=r,
            ),
            rejections=Counter(
                "ingest_rejections_total",
                "Rejected requests or batch items, by route and reason code.",
                ["route", "reason"],
                registry=r,
            ),
            events_accepted=Counter(
                "ingest_events_accepted_total",
                "Events acknowledged by Kafka, by event type.",
                ["event_type"],
                registry=r,
            ),
            produce_seconds=Histogram(
                "ingest_produce_seconds",
                "From handing an event to the producer to Kafka's acknowledgement.",
                buckets=_LATENCY_BUCKETS,
                registry=r,
            ),
            produce_failures=Counter(
                "ingest_produce_failures_total",
                "Events Kafka did not acknowledge, by reason (backpressure, timeout, kafka error).",
                ["reason"],
                registry=r,
            ),
            in_flight=Gauge(
                "ingest_in_flight_messages", "Events handed to the producer and not yet acknowledged.", registry=r
            ),
            webhooks_ignored=Counter(
                "ingest_webhooks_ignored_total",
                "Jira webhook calls acknowledged and ignored (not issue_created), by webhookEvent.",
                ["webhook_event"],
                registry=r,
            ),
            documents=Counter(
                "ingest_documents_total",
                "Uploaded documents recorded, by upload status (ok, corrupt, truncated).",
                ["upload_status"],
                registry=r,
            ),
            id_collisions=Counter(
                "ingest_event_id_collisions_total",
                "Events whose id was written in another client's namespace (an attempt to take its "
                "dedupe identity; kept apart under the sender's namespace), by sending client.",
                ["client"],
                registry=r,
            ),
        )
