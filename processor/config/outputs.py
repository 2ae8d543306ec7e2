"""The output topics' wire format."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from processor.config.base import FROZEN


class OutputsSettings(BaseModel):
    model_config = FROZEN

    #: ``json`` (UTF-8 objects) or ``avro-registry``: the scored, review and quarantine topics as
    #: Confluent-framed Avro (magic 0, 4-byte schema id, Avro binary) of ``processor/schemas/output/*.avsc`` (package data),
    #: registered in ``schema_registry`` (which must then be set).
    format: Literal["json", "avro-registry"] = "json"
