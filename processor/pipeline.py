"""One batch through every stage: decode, dedupe, validate, reorder, features, score, decide, route.

This module knows nothing of Kafka transactions: it turns consumed messages into output records
and the Redis buffer changes that go with them, and leaves committing (or aborting) to ``app``.
Redis is touched twice per batch: one pipeline for the dedupe marks, one for the entity history
and the reorder-buffer scripts of every partition. Features, the model and the decision bands work
on all of a batch's events of one type at once (history counts as arrays, a feature module's
optional ``compute_batch``, one model call per type, every type's call submitted before the first
is waited for, so the model thread scores while this one computes); rules and outputs go event by event.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import redis

from processor.batch_stats import BatchStats, DriftSample
from processor.config import PipelinesConfig, Settings
from processor.decide.killswitch import KillSwitch, SwitchState
from processor.decide.rules import compile_rules
from processor.decide.thresholds import DecisionMaker
from processor.errors import FeatureError, unexpected
from processor.features.base import FeatureModule, batch_compute, load_feature_module
from processor.logs import log_quarantined
from processor.messages import Event, OutputRecord, RawMessage, Reason, Rejected, Scored
from processor.serializers.outputs import OutputEncoder
from processor.serializers.registry import OutputSchemaIds, RegistryUnavailable, WriterSchemas, make_client
from processor.serializers.schemas import SchemaStore
from processor.serving.registry import ModelRegistry
from processor.serving.shadow import ShadowComparer
from processor.serving.worker import ModelWorker, PendingScore
from processor.stages.decode import Decoder
from processor.stages.reorder import PartitionBuffer, Reorderer
from processor.stages.route import Router
from processor.stages.validate import Validator, check_config_fields
from processor.state.dedupe import DedupeStore
from processor.state.entity_history import EntityHistory
from processor.state.keys import Keys
from processor.state.reorder_store import BufferChange, ReorderStore

log = logging.getLogger(__name__)


@dataclass(slots=True)
class PreparedBatch:
    outputs: list[OutputRecord]
    changes: list[BufferChange]
    stats: BatchStats


class Pipeline:
    def __init__(
        self,
        settings: Settings,
        pipelines: PipelinesConfig,
        schemas: SchemaStore,
        client: redis.Redis,
        worker: ModelWorker | None = None,
    ) -> None:
        self.settings = settings
        self.pipelines = pipelines
        for name, cfg in pipelines.event_types.items():
            check_config_fields(name, cfg, schemas.latest(cfg.schema_name or name))
        self.modules: dict[str, FeatureModule] = {
            name: load_feature_module(
                cfg.features or name,
                features_dir=settings.features_dir,
                schema_fields=schemas.latest(cfg.schema_name or name).fields,
            )
            for name, cfg in pipelines.event_types.items()
        }
        keys = Keys(settings.redis.key_prefix)
        self.client = client
        #: Writer schemas of Confluent-framed input, by id (None: no registry configured).
        registry = make_client(settings.schema_registry) if settings.schema_registry.url is not None else None
        self.writers = WriterSchemas(registry, schemas) if registry is not None else None
        #: Output schema ids when the outputs are Confluent-framed Avro (``outputs.format: avro-registry``).
        self.output_ids = (
            OutputSchemaIds(registry, schemas.output_json, settings.schema_registry.subject_strategy)
            if registry is not None and settings.outputs.format == "avro-registry"
            else None
        )
        self.decoder = Decoder(schemas, pipelines, settings.processing, self.writers)
        self.validator = Validator(schemas, pipelines, settings.processing)
        self.dedupe = DedupeStore(client, keys, settings.processing.dedupe_ttl_s, settings.processing.dedupe_shards)
        self.history = EntityHistory(
            client, keys, settings.processing.history_retention_slack_ms, settings.processing.history_shards
        )
        self.store = ReorderStore(client, keys)
        self.worker = worker or ModelWorker(
            settings.models.dir,
            self.modules,
            reload_interval_s=settings.models.reload_interval_s,
            latency_budget_ms=settings.models.latency_budget_ms,
            registry=ModelRegistry(client, settings.redis.key_prefix, settings.models.dir),
            comparer=ShadowComparer(
                {name: cfg.decision for name, cfg in pipelines.event_types.items()},
                OutputEncoder(schemas),
                settings.models.shadow_topic,
            ),
        )
        self.decider = DecisionMaker(
            pipelines,
            {
                name: compile_rules(
                    name,
                    cfg.rules,
                    set(schemas.latest(cfg.schema_name or name).fields),
                    set(self.modules[name].FEATURE_NAMES),
                )
                for name, cfg in pipelines.event_types.items()
            },
        )
        self.killswitch = KillSwitch(
            client,
            keys,
            list(pipelines.event_types),
            default=settings.processing.killswitch_default,
            poll_interval_s=settings.processing.killswitch_poll_ms / 1000,
        )
        self.router = Router(
            settings.topics,
            OutputEncoder(schemas, settings.outputs.format, self.output_ids)
            if self.output_ids is not None
            else OutputEncoder(schemas),
        )
        p = settings.processing
        self.reorder = Reorderer(pipelines, p.allowed_lateness_ms, p.idle_timeout_ms / 1000)

    def registry_ping(self) -> None:
        """``RegistryUnavailable`` unless the schema registry (when one is configured) answers."""
        if self.writers is not None:
            self.writers.ping()

    def register_outputs(self) -> None:
        """Look up (registering when new) the id of every output schema, before the first batch:
        a registry that refuses one stops the start-up with its explanation instead of failing
        batch after batch. ``RegistryUnavailable`` when it cannot be asked."""
        if self.output_ids is None:
            return
        t = self.settings.topics
        for schema_name, topic in (("scored", t.scored), ("review", t.review), ("quarantine", t.quarantine)):
            self.output_ids.id_for(schema_name, topic)

    def process(
        self,
        raws: Sequence[RawMessage],
        buffers: dict[int, PartitionBuffer],
        *,
        flush: bool = False,
        keep_samples: int = 0,
    ) -> PreparedBatch:
        """Run one batch. Applies the buffer changes to Redis (generation + 1 of each partition
        touched); the caller must commit the Kafka transaction or abort and reconcile."""
        stats = BatchStats(inputs=len(raws))
        clock = _StageClock(stats.stage_seconds)
        now_ms = int(time.time() * 1000)
        now = time.monotonic()
        self.worker.maybe_reload()
        self.killswitch.refresh()

        events, rejected = self.decoder.decode_batch(raws)
        clock.lap("decode")

        firsts = self.dedupe.first_sightings(events)
        unique = []
        for event, first in zip(events, firsts, strict=True):
            if first:
                unique.append(event)
            else:
                stats.duplicates[event.event_type] += 1
                stats.outcomes[(event.event_type, "duplicate")] += 1
        clock.lap("dedupe")

        valid, invalid = self.validator.validate_batch(unique, now_ms)
        rejected.extend(invalid)
        for event in valid:
            if event.coercions:
                stats.coercions[event.event_type] += len(event.coercions)
        clock.lap("validate")

        reordered = self.reorder.run(valid, buffers, now, stats, flush=flush)
        ready, changes = reordered.ready, reordered.changes
        rejected.extend(reordered.late)
        clock.lap("reorder")

        # Round trip 2: history adds + counts, and every partition's buffer change, in one pipeline.
        pipe = self.client.pipeline(transaction=False)
        queued = self.history.queue(pipe, ready, self.modules)
        for change in changes:
            self.store.queue_apply(pipe, change)
        results = pipe.execute(raise_on_error=True)
        history = queued.arrays(results)
        clock.lap("state")

        scored = self._score(ready, history, stats, rejected)
        clock.lap("score")

        outputs: list[OutputRecord] = []
        for item in scored:
            try:
                outputs.append(self.router.scored(item, now_ms))
            except RegistryUnavailable:
                raise  # the registry's fault, not the event's: the batch waits and is redone
            except Exception as exc:  # an output that will not encode is quarantined, not retried forever
                rejected.append(Rejected(item.event.raw, _processing_error("output_encoding", exc, item.event)))
                continue
            d = item.decision
            stats.answered.append((item.event.raw.partition, item.event.raw.offset))
            stats.outcomes[(item.event.event_type, d.route)] += 1
            stats.decisions[(item.event.event_type, d.decision_source, d.route)] += 1
            if item.event.raw.timestamp_ms is not None:
                stats.ingest_ms[item.event.event_type].append(item.event.raw.timestamp_ms)
            stats.event_ms[item.event.event_type].append(item.event.occurred_at)
        for bad in rejected:
            outputs.append(self.router.quarantined(bad, now_ms))
            stats.answered.append((bad.raw.partition, bad.raw.offset))
            stats.quarantined[(bad.reason.stage, bad.reason.code)] += 1
            stats.outcomes[(bad.reason.event_type or "unknown", "quarantined")] += 1
            log_quarantined(log, bad)
        outputs.extend(record for shadow in stats.shadow for record in shadow.records)
        if keep_samples:
            stats.samples = scored[:keep_samples]
        clock.lap("route")
        return PreparedBatch(outputs=outputs, changes=changes, stats=stats)

    def _score(
        self,
        ready: list[Event],
        history: dict[str, npt.NDArray[np.int64]],
        stats: BatchStats,
        rejected: list[Rejected],
    ) -> list[Scored]:
        """Features, one model call and the decisions, per event type, each on the whole batch's
        events of that type at once; then the scored events back in release order.

        Every type's model call is submitted before the first is waited for: the model thread
        scores one type while this one computes the next type's features or decides the last's.
        """
        by_type: dict[str, list[int]] = defaultdict(list)
        for index, event in enumerate(ready):
            by_type[event.event_type].append(index)
        submitted: list[tuple[str, list[Event], npt.NDArray[np.float64], SwitchState, PendingScore | None]] = []
        for event_type, indices in by_type.items():
            module = self.modules[event_type]
            events = [ready[i] for i in indices]
            counts = {c.name: history[c.name][indices] for c in module.HISTORY}
            events, matrix = feature_matrix(module, events, counts, rejected)
            if not events:
                continue
            switch = self.killswitch.state_for(event_type)
            pending = None if switch.engaged else self.worker.submit(event_type, matrix, events)
            submitted.append((event_type, events, matrix, switch, pending))
        out: list[Scored] = []
        for event_type, events, matrix, switch, pending in submitted:
            names = self.modules[event_type].FEATURE_NAMES
            out.extend(self._decide(event_type, names, events, matrix, switch, pending, stats))
        # release order per partition matters downstream (per-entity order): restore it
        position = {id(e): i for i, e in enumerate(ready)}
        out.sort(key=lambda s: position[id(s.event)])
        return out

    def _decide(
        self,
        event_type: str,
        names: Sequence[str],
        events: list[Event],
        matrix: npt.NDArray[np.float64],
        switch: SwitchState,
        pending: PendingScore | None,
        stats: BatchStats,
    ) -> list[Scored]:
        """One type's model scores (``pending``: None when the kill switch is engaged), then the
        decisions (bands on arrays, rules per event)."""
        # each row as {name: value}, NaN (missing) as None: what outputs and rules see
        present = matrix.astype(object)
        present[np.isnan(matrix)] = None
        features = [dict(zip(names, row, strict=True)) for row in present.tolist()]
        if pending is None:  # the model is switched off: capture and decide without it
            stats.killswitched[event_type] += len(events)
            out = []
            for event, values in zip(events, features, strict=True):
                decision = self.decider.switched_off(event_type, switch)
                if switch.mode == "fallback":  # the deterministic rules still decide
                    decision = self.decider.apply_rules(event_type, decision, event.record, values)
                out.append(Scored(event, decision, values))
            return out
        result = self.worker.result(pending)
        stats.drift.append(DriftSample(event_type, result.model_version, matrix, result.scores))
        if result.shadow is not None:
            stats.shadow.append(result.shadow)
        if result.failure is not None:
            stats.model_failures[(event_type, result.failure)] += 1
            log.warning(
                "model could not score %d %s events (%s): fallback decides",
                len(events),
                event_type,
                result.failure,
                extra={
                    "event_type": event_type,
                    "model_version": result.model_version,
                    "reason": result.failure,
                    "events": len(events),
                    "first_event_id": events[0].event_id,
                    "rate_limit_key": f"fallback:{event_type}:{result.failure}",
                },
            )
        if result.scores is not None:
            scores = np.asarray(result.scores, dtype=np.float64)
            stats.scores[event_type].extend(scores.tolist())
            decisions = self.decider.decide_batch(event_type, scores, result.model_version)
        else:
            fallback = self.decider.decide(event_type, None, result.model_version, result.failure)
            decisions = [fallback] * len(events)
        if result.ranges and self.pipelines.event_types[event_type].escalate_out_of_range:
            decisions = self.decider.escalate_out_of_range_batch(decisions, matrix, names, result.ranges)
        return [
            Scored(event, self.decider.apply_rules(event_type, decision, event.record, values), values)
            for event, decision, values in zip(events, decisions, features, strict=True)
        ]


def feature_matrix(
    module: FeatureModule,
    events: list[Event],
    counts: dict[str, npt.NDArray[np.int64]],
    rejected: list[Rejected],
) -> tuple[list[Event], npt.NDArray[np.float64]]:
    """The feature matrix of one type's events (and the events it describes): the module's
    ``compute_batch`` when it has one; else, or when that fails, ``compute`` event by event,
    quarantining (stage ``features``) only the events whose own vector cannot be computed."""
    width = len(module.FEATURE_NAMES)
    compute_batch = batch_compute(module)
    if compute_batch is not None:
        try:
            matrix = np.asarray(compute_batch([e.record for e in events], counts), dtype=np.float64)
            if matrix.shape == (len(events), width):
                return events, matrix
            raise ValueError(f"compute_batch returned shape {matrix.shape}, not {(len(events), width)}")
        except Exception as exc:  # find the events at fault one by one, as if there were no batch path
            log.warning(
                "compute_batch of %s failed (%s: %s): computing its %d events one by one",
                events[0].event_type,
                type(exc).__name__,
                exc,
                len(events),
                extra={
                    "event_type": events[0].event_type,
                    "rate_limit_key": f"compute_batch:{events[0].event_type}",
                },
            )
    columns = {name: column.tolist() for name, column in counts.items()}
    kept: list[Event] = []
    rows: list[list[float]] = []
    for i, event in enumerate(events):
        try:
            row = module.compute(event.record, {name: column[i] for name, column in columns.items()})
            if len(row) != width:
                raise ValueError(f"{len(row)} features computed, {width} declared")
        except Exception as exc:  # one event's bad features must not stall the partition
            rejected.append(Rejected(event.raw, _feature_error(exc, event)))
            continue
        kept.append(event)
        rows.append(row)
    return kept, np.asarray(rows, dtype=np.float64).reshape(len(rows), width)


def _processing_error(code: str, exc: Exception, event: Event) -> Reason:
    error = unexpected(exc, event.raw, event.event_type, event.event_id)
    error.code = code
    return error.reason()


def _feature_error(exc: Exception, event: Event) -> Reason:
    error = FeatureError(
        "feature_error",
        f"{type(exc).__name__}: {exc}"[:1000],
        raw=event.raw,
        event_type=event.event_type,
        event_id=event.event_id,
    )
    error.__cause__ = exc  # the quarantine record's dead-letter headers name the feature code's exception
    return error.reason()


class _StageClock:
    def __init__(self, sink: dict[str, float]) -> None:
        self._sink = sink
        self._t = time.perf_counter()

    def lap(self, stage: str) -> None:
        t = time.perf_counter()
        self._sink[stage] = self._sink.get(stage, 0.0) + (t - self._t)
        self._t = t
