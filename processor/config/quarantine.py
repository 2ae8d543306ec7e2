"""Quarantine: how ``processor quarantine replay`` remembers what it replayed."""

from __future__ import annotations

from pydantic import BaseModel, Field

from processor.config.base import FROZEN


class QuarantineSettings(BaseModel):
    model_config = FROZEN

    #: How long ``processor quarantine replay`` remembers that it replayed a record (and so skips it).
    replay_ledger_ttl_s: int = Field(default=30 * 86_400, ge=60)
