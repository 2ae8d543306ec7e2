"""Processing: batches, input limits, reordering, dedupe and history retention, the kill switch."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from processor.config.base import FROZEN


class ProcessingSettings(BaseModel):
    model_config = FROZEN

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
