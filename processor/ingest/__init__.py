"""The HTTP ingestion gateway: events, Jira webhooks and document uploads into ``events.raw``.

Producers that cannot speak Kafka reach the processor through here. The gateway checks the
basics (authentication, size, encoding, the envelope of docs/design.md §2), assigns ids where the
source has none (stable ones, so retries deduplicate downstream), and produces with an
idempotent producer keyed by entity id. Everything else (schemas, semantics, scoring) is the
processor's job.
"""
