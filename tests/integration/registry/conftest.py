"""The schema registry of the local stack (`make stack-up` starts it), once per session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from confluent_kafka.schema_registry import SchemaRegistryClient

from helpers.registry import REGISTRY_URL, ready


@pytest.fixture(scope="session")
def registry_url(stack: None) -> str:
    assert ready(REGISTRY_URL), f"no schema registry answers at {REGISTRY_URL} (deploy/local/stack.sh up starts it)"
    return REGISTRY_URL


@pytest.fixture(scope="session")
def registry_client(registry_url: str) -> Iterator[SchemaRegistryClient]:
    """A plain client, as a producer or consumer would use one."""
    client = SchemaRegistryClient({"url": registry_url})
    yield client
    client.close()
