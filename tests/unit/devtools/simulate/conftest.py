"""Fixtures for the simulator tests: the real decoder and validator, and a helper to run them."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pytest

from processor.config import load_pipelines, load_settings
from processor.devtools.simulate import SimulatedMessage
from processor.messages import RawMessage
from processor.serializers.schemas import SchemaStore
from processor.stages.decode import Decoder
from processor.stages.validate import Validator

#: What the decode and validate stages made of each message: ("ok", None) or (stage, code).
Outcome = tuple[str, str | None]
RunStages = Callable[[Sequence[SimulatedMessage]], list[Outcome]]


@pytest.fixture(scope="session")
def store() -> SchemaStore:
    return SchemaStore(load_settings().schemas_dir)


@pytest.fixture(scope="session")
def run_stages(store: SchemaStore) -> RunStages:
    """Messages through ``Decoder.decode_batch`` then ``Validator.validate_batch``, outcome per message."""
    settings = load_settings()
    pipelines = load_pipelines(settings.pipelines_file)
    decoder = Decoder(store, pipelines, settings.processing)
    validator = Validator(store, pipelines, settings.processing)

    def run(messages: Sequence[SimulatedMessage]) -> list[Outcome]:
        raws = [
            RawMessage("events.raw", 0, offset, m.key, m.value, m.headers, None) for offset, m in enumerate(messages)
        ]
        events, rejected = decoder.decode_batch(raws)
        valid, invalid = validator.validate_batch(events)
        outcomes: dict[int, Outcome] = {e.raw.offset: ("ok", None) for e in valid}
        for item in [*rejected, *invalid]:
            outcomes[item.raw.offset] = (item.reason.stage, item.reason.code)
        for event in valid:
            assert not event.coercions, f"a valid simulated event needed coercions: {event.coercions}"
        return [outcomes[i] for i in range(len(messages))]

    return run


def expected_outcome(message: SimulatedMessage) -> Outcome:
    """What decode + validate must say: dedupe and reorder come later, so duplicates and late
    events still decode and validate."""
    if message.expected == "quarantine":
        assert message.expected_stage is not None
        return (message.expected_stage, message.expected_code)
    return ("ok", None)


@pytest.fixture(scope="session")
def expected() -> Callable[[SimulatedMessage], Outcome]:
    return expected_outcome
