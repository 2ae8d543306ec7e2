"""``processor demo``: the whole loop on the local stack, start to finish, with a summary.

It runs in its own namespace (consumer group ``processor-demo``, Redis prefix ``demo:``) and
starts fresh each time: the five topics are recreated empty and the demo's Redis keys deleted,
so the summary describes exactly this run. Models are trained first when there are none
(``processor models bootstrap``).
"""

from __future__ import annotations

import contextlib
import logging
import random
import threading
import time
from pathlib import Path

import redis
from confluent_kafka.admin import AdminClient

from processor.app import Processor, RunSummary
from processor.audit import AuditReport, audit
from processor.config import Settings, load_pipelines
from processor.kafka.admin import create_topics
from processor.state.redis_client import connect

DEMO_GROUP = "processor-demo"
DEMO_PREFIX = "demo:"


def training_dir(settings: Settings) -> Path:
    """Where the demo writes its generated history: inside the project, never beside the package."""
    return settings.project_dir / "data" / "generated"


def _say(message: str) -> None:
    print(f"==> {message}", flush=True)


#: The schema registry `deploy/local/stack.sh up` starts, when settings name none.
LOCAL_REGISTRY_URL = "http://localhost:8085/apis/ccompat/v7"
REGISTRY_EVENTS = 400


def demo_settings(settings: Settings) -> Settings:
    registry = settings.schema_registry
    return settings.model_copy(
        update={
            "kafka": settings.kafka.model_copy(update={"group_id": DEMO_GROUP, "transactional_id": DEMO_GROUP}),
            "redis": settings.redis.model_copy(update={"key_prefix": DEMO_PREFIX}),
            "schema_registry": registry if registry.url else registry.model_copy(update={"url": LOCAL_REGISTRY_URL}),
        }
    )


def _registry_producer(settings: Settings, seed: int) -> None:
    """One producer that knows only the schema registry, beside the simulated stream."""
    from processor.devtools.simulate.registry_producer import produce_through_registry
    from processor.serializers.registry import RegistryUnavailable, WriterSchemas, make_client
    from processor.serializers.schemas import SchemaStore

    url = settings.schema_registry.url
    try:
        WriterSchemas(make_client(settings.schema_registry), SchemaStore(settings.schemas_dir)).ping()
    except RegistryUnavailable as exc:
        _say(f"no schema registry answers at {url} ({exc}): skipping the registry producer")
        return
    _say(f"producing {REGISTRY_EVENTS} sign-ups with confluent_kafka's AvroSerializer through the registry at {url}")
    # after the simulated stream in event time too: the reorder stage would call earlier events late
    start_ms = int(time.time() * 1000) + 1_000
    produced = produce_through_registry(settings, count=REGISTRY_EVENTS, seed=seed, start_ms=start_ms)
    print(produced.render(), flush=True)


def _fresh_topics(settings: Settings) -> None:
    admin = AdminClient(settings.kafka.client_config())
    t = settings.topics
    names = [t.raw, t.scored, t.review, t.quarantine, t.feedback]
    existing = set(admin.list_topics(timeout=30).topics)
    doomed = [n for n in names if n in existing]
    if doomed:
        for future in admin.delete_topics(doomed, operation_timeout=30).values():
            future.result()
    with contextlib.suppress(Exception):  # the group does not exist yet: nothing to delete
        admin.delete_consumer_groups([settings.kafka.group_id])[settings.kafka.group_id].result()
    deadline = time.monotonic() + 60
    while set(admin.list_topics(timeout=30).topics) & set(doomed):  # deletion is asynchronous
        if time.monotonic() > deadline:
            raise TimeoutError(f"topics {doomed} were not deleted within 60 s")
        time.sleep(0.5)
    for attempt in range(20):
        try:
            create_topics(settings)
            return
        except Exception:  # the broker may still be finishing the deletion
            if attempt == 19:
                raise
            time.sleep(0.5)


def _clear_redis(client: redis.Redis, prefix: str) -> int:
    deleted = 0
    batch = []
    for key in client.scan_iter(match=f"{prefix}*", count=1000):
        batch.append(key)
        if len(batch) >= 1000:
            deleted += client.unlink(*batch)
            batch = []
    if batch:
        deleted += client.unlink(*batch)
    # the partition buffers' keys start with "{" (hash tag) then the prefix
    for key in client.scan_iter(match=f"{{{prefix}*", count=1000):
        deleted += client.unlink(key)
    return deleted


def ensure_models(settings: Settings) -> None:
    """A loadable model per event type (``processor models bootstrap``), its history kept in training_dir(settings)."""
    from processor.training.bootstrap import bootstrap_models

    bootstrap_models(settings, history_dir=training_dir(settings), say=_say)


def run_demo(settings: Settings, *, count: int, seed: int | None) -> int:
    settings = demo_settings(settings)
    seed = seed if seed is not None else random.randrange(1, 2**31)
    _say(f"Kafka {settings.kafka.bootstrap_servers}, Redis {settings.redis.url}, seed {seed}")
    _say("fresh topics and demo state")
    _fresh_topics(settings)
    _clear_redis(connect(settings.redis), DEMO_PREFIX)
    ensure_models(settings)

    from processor.devtools.simulate import run_simulate

    _say(f"producing {count} simulated events with the default fault mix to {settings.topics.raw}")
    simulated = run_simulate(
        settings, count=count, seed=seed, faults_spec="default", out=None, topic=None, types=None, span_s=600.0
    )
    print(simulated, flush=True)
    _registry_producer(settings, seed)

    from processor.devtools.demo_traffic import render as render_gateway
    from processor.devtools.demo_traffic import send_traffic, start_gateway

    _say("starting the ingestion gateway (processor ingest serve) on its own port")
    gateway = start_gateway(settings, training_dir(settings) / "demo-gateway")
    _say("running the processor until it has been idle for 5 s, while Jira webhooks and uploads reach the gateway")
    sender = threading.Thread(target=send_traffic, args=(gateway, seed), name="demo-gateway-traffic")
    try:
        # one log line per quarantined input is for production; the demo's summary counts them
        logging.getLogger("processor.pipeline").setLevel(logging.WARNING)
        processor = Processor(settings, load_pipelines(settings.pipelines_file))
        sender.start()
        summary = processor.run(max_idle_s=5.0)
        sender.join()
    finally:
        gateway.stop()

    _say("auditing the topics (read_committed)")
    report = audit(settings)
    print(render_summary(summary, report), flush=True)
    print(render_gateway(gateway, settings), flush=True)
    print(
        "\nThe stack is still running. Stop it with `make stack-down`; look at the outputs with\n"
        "  .venv/bin/processor audit   (PROCESSOR_KAFKA__GROUP_ID is not needed for that)\n"
        f"Models are in {settings.models.dir}; training data in {training_dir(settings)}."
    )
    return 0 if report.identity_holds else 1


def render_summary(summary: RunSummary, report: AuditReport) -> str:
    lines = ["", "Summary", "-------"]
    rows = [
        ("inputs consumed", summary.inputs),
        ("scored", summary.outcomes.get("scored", 0)),
        ("review", summary.outcomes.get("review", 0)),
        ("quarantined", summary.outcomes.get("quarantined", 0)),
        ("duplicates dropped", summary.duplicates),
        ("late events (flagged or quarantined)", sum(summary.late.values())),
        ("tolerant coercions", summary.coercions),
        ("transactions committed / aborted", f"{summary.transactions} / {summary.aborts}"),
        ("throughput (events/s)", f"{summary.throughput():,.0f}"),
    ]
    lines += [f"  {name:<38} {value:>12}" for name, value in rows]
    lines += ["", "Decision sources"]
    lines += [f"  {name:<38} {n:>12}" for name, n in sorted(summary.decision_sources.items())]
    lines += ["", "Quarantined by stage and reason"]
    lines += [f"  {stage + ' / ' + code:<38} {n:>12}" for (stage, code), n in sorted(summary.quarantined.items())]
    lines += ["", "Late events by type and policy"]
    lines += [f"  {key:<38} {n:>12}" for key, n in sorted(summary.late.items())]
    lines += ["", "Sample decisions"]
    for item in summary.samples[:6]:
        d = item.decision
        score = "   -  " if d.score is None else f"{d.score:6.3f}"
        lines.append(
            f"  {item.event.event_type:<20} {item.event.entity_id[:18]:<18} score {score}  "
            f"{d.decision:<8} {d.category or '':<22} via {d.decision_source} -> {d.route}"
        )
    lines += ["", "Accounting identity (from the topics, read_committed)"]
    lines.append(
        f"  inputs {report.inputs} = scored {report.scored} + review {report.review} + quarantined "
        f"{report.quarantined} + duplicates {report.duplicates_dropped}"
    )
    lines.append(
        f"  duplicates counted by the processor: {summary.duplicates}; found by the audit: {report.duplicates_dropped}"
    )
    lines.append(
        f"  per-entity order in the outputs (late events excepted): {'holds' if report.order_holds else 'BROKEN'}"
    )
    for problem in report.problems():
        lines.append(f"  PROBLEM: {problem}")
    lines.append(f"  identity: {'HOLDS' if report.identity_holds else 'BROKEN'}")
    return "\n".join(lines)
