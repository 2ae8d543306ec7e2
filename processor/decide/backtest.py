"""``processor rules test --events FILE``: what would the current policy have done with history?

Events go through the serving decoder and validator, features through the serving feature
modules with the in-memory history (as in training, in event-time order), scores through the
newest model per type. Each event is decided twice, by the model alone and with the rules, and
the report counts what every rule decided and how many decisions it changed.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from processor.config import PipelinesConfig, Settings
from processor.decide.rules import compile_rules
from processor.decide.thresholds import DecisionMaker
from processor.features.base import load_feature_module
from processor.features.history import InMemoryHistory
from processor.messages import Event, RawMessage
from processor.serializers.schemas import SchemaStore
from processor.serving.worker import ModelWorker
from processor.stages.decode import Decoder
from processor.stages.validate import Validator


@dataclass
class BacktestReport:
    events: Counter[str] = field(default_factory=Counter)
    rejected: int = 0
    model_versions: dict[str, str | None] = field(default_factory=dict)
    fired: Counter[tuple[str, str]] = field(default_factory=Counter)  # (type, rule) -> decisions made
    changed: Counter[tuple[str, str]] = field(default_factory=Counter)  # (type, rule) -> other decision or route
    routes: Counter[tuple[str, str, str]] = field(default_factory=Counter)  # (type, "model"/"policy", route)

    def render(self) -> str:
        lines = [f"{'event type':<22} {'rule':<28} {'decisions':>10} {'changed vs model':>17}"]
        for (event_type, rule), n in sorted(self.fired.items()):
            lines.append(f"{event_type:<22} {rule:<28} {n:>10} {self.changed[(event_type, rule)]:>17}")
        if not self.fired:
            lines.append("(no rule matched any event)")
        lines.append("")
        for event_type, n in sorted(self.events.items()):
            fired = sum(v for (t, _), v in self.fired.items() if t == event_type)
            changed = sum(v for (t, _), v in self.changed.items() if t == event_type)
            review_model = self.routes[(event_type, "model", "review")]
            review_policy = self.routes[(event_type, "policy", "review")]
            lines.append(
                f"{event_type}: {n} events, model {self.model_versions.get(event_type) or 'none (fallback)'}, "
                f"rules decided {fired}, changed {changed}; review {review_model} -> {review_policy}"
            )
        lines.append(f"skipped {self.rejected} lines that would have been quarantined")
        return "\n".join(lines)


def backtest(
    settings: Settings, pipelines: PipelinesConfig, events_path: Path, event_type: str | None = None
) -> BacktestReport:
    schemas = SchemaStore(settings.schemas_dir)
    decoder = Decoder(schemas, pipelines, settings.processing)
    validator = Validator(schemas, pipelines, settings.processing)
    modules = {
        name: load_feature_module(
            cfg.features or name,
            features_dir=settings.features_dir,
            schema_fields=schemas.latest(cfg.schema_name or name).fields,
        )
        for name, cfg in pipelines.event_types.items()
    }
    rules = {
        name: compile_rules(
            name, cfg.rules, set(schemas.latest(cfg.schema_name or name).fields), set(modules[name].FEATURE_NAMES)
        )
        for name, cfg in pipelines.event_types.items()
    }
    decider = DecisionMaker(pipelines, rules)
    worker = ModelWorker(settings.models.dir, modules, reload_interval_s=3600, latency_budget_ms=60_000)
    report = BacktestReport()

    events: list[Event] = []
    with events_path.open("rb") as handle:
        raws = [
            RawMessage(f"file:{events_path.name}", 0, i, None, line.rstrip(b"\n"))
            for i, line in enumerate(handle)
            if line.strip()
        ]
    decoded, bad = decoder.decode_batch(raws)
    valid, invalid = validator.validate_batch(decoded)
    report.rejected = len(bad) + len(invalid)
    events = [e for e in valid if event_type is None or e.event_type == event_type]
    events.sort(key=lambda e: (e.occurred_at, e.sequence if e.sequence is not None else -1, e.event_id))

    history = InMemoryHistory(modules)
    rows: dict[str, list[tuple[Event, list[float]]]] = defaultdict(list)
    for event in events:
        counts = history.counts(event.event_type, event.record, event.occurred_at)
        history.add(event.event_type, event.event_id, event.record, event.occurred_at)
        rows[event.event_type].append((event, modules[event.event_type].compute(event.record, counts)))

    for name, items in rows.items():
        names = modules[name].FEATURE_NAMES
        result = worker.score(name, np.asarray([row for _, row in items], dtype=np.float64))
        report.model_versions[name] = result.model_version
        report.events[name] = len(items)
        for i, (event, row) in enumerate(items):
            score = float(result.scores[i]) if result.scores is not None else None
            alone = decider.decide(name, score, result.model_version, result.failure)
            features = {n: (None if v != v else float(v)) for n, v in zip(names, row, strict=True)}
            policy = decider.apply_rules(name, alone, event.record, features)
            report.routes[(name, "model", alone.route)] += 1
            report.routes[(name, "policy", policy.route)] += 1
            if policy.rule_ids:
                key = (name, policy.rule_ids[0])
                report.fired[key] += 1
                if (policy.decision, policy.route) != (alone.decision, alone.route):
                    report.changed[key] += 1
    worker.close()
    return report
