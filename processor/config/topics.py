"""The topics: input, the outputs, and how ``processor topics create`` makes them."""

from __future__ import annotations

from pydantic import BaseModel, Field, model_validator

from processor.config.base import FROZEN


class TopicsSettings(BaseModel):
    model_config = FROZEN

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
