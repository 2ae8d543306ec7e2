"""The decode and validate stages built on the real schemas and pipeline file.

The valid input records (``signup``, ``jira``, ``document``) come from ``tests/conftest.py``.
"""

from __future__ import annotations

import pytest

from processor.config import PipelinesConfig, Settings
from processor.serializers.schemas import SchemaStore
from processor.stages.decode import Decoder
from processor.stages.validate import Validator


@pytest.fixture
def decoder(schema_store: SchemaStore, pipelines: PipelinesConfig, settings: Settings) -> Decoder:
    return Decoder(schema_store, pipelines, settings.processing)


@pytest.fixture
def validator(schema_store: SchemaStore, pipelines: PipelinesConfig, settings: Settings) -> Validator:
    return Validator(schema_store, pipelines, settings.processing)
