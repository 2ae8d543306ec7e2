"""The demo's registry producer: simulated sign-ups under v1 and v2, every one decoded by id."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable

from processor.audit import read_topic
from processor.config import Settings, load_pipelines
from processor.devtools.simulate.registry_producer import produce_through_registry
from processor.kafka.records import to_raw
from processor.serializers.registry import WriterSchemas, make_client
from processor.serializers.schemas import SchemaStore
from processor.stages.decode import Decoder


def test_every_event_decodes_by_its_schema_id(topic_factory: Callable[..., Settings], registry_url: str) -> None:
    settings = topic_factory(schema_registry={"url": registry_url})
    produced = produce_through_registry(settings, count=120, seed=7, start_ms=int(time.time() * 1000))
    assert set(produced.by_version) == {1, 2} and sum(produced.by_version.values()) == 120
    assert produced.subject == "processor.events.UserSignedUp"

    schemas = SchemaStore(settings.schemas_dir)
    writers = WriterSchemas(make_client(settings.schema_registry), schemas)
    decoder = Decoder(schemas, load_pipelines(settings.pipelines_file), settings.processing, writers)
    raws = [to_raw(m) for m in read_topic(settings, settings.topics.raw, idle_s=1.0)]
    events, rejected = decoder.decode_batch(raws)
    assert rejected == []
    assert Counter(e.schema_version for e in events) == produced.by_version
    assert {r.value[1:5] for r in raws if r.value} == {i.to_bytes(4, "big") for i in produced.schema_ids.values()}
    assert writers.fetches == 2
