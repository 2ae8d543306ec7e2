"""Where ``processor status`` reads from."""

from __future__ import annotations

from pydantic import BaseModel, Field

from processor.config.base import FROZEN


class StatusSettings(BaseModel):
    """Where ``processor status`` reads the operator's screen from (besides Redis)."""

    model_config = FROZEN

    #: ``/metrics`` of every processor of the deployment (one per process when scaled out): summed.
    processor_urls: list[str] = Field(default_factory=lambda: ["http://localhost:9108/metrics"], min_length=1)
    #: ``/metrics`` of the review app (review backlog); empty to leave the backlog out.
    review_url: str = "http://localhost:8081/metrics"
    #: Per HTTP request and per Redis call.
    timeout_s: float = Field(default=3.0, gt=0)
    #: Two scrapes this far apart give the rates (throughput); 0 shows totals only.
    interval_s: float = Field(default=2.0, ge=0, le=60)
