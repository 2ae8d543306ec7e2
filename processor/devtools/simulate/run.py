"""``processor simulate``: generate a stream with the settings' schemas and send it somewhere.

The CLI and the demo call ``run_simulate``; everything here is wiring (settings in, summary out).
The summary counts the ground truth, so an operator can compare it with what the processor
reports: messages expected valid should be scored or reviewed, quarantines should match by stage
and code, duplicates should be dropped.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from processor.config import Settings
from processor.devtools.simulate.faults import FaultMix
from processor.devtools.simulate.sinks import manifest_path_for, produce_to_kafka, write_jsonl, write_manifest
from processor.devtools.simulate.stream import ALL_TYPES, EXPECTED_OUTCOMES, SimulatedMessage, simulate, summarize
from processor.errors import ConfigError
from processor.serializers.schemas import SchemaStore


@dataclass(frozen=True, slots=True)
class SimulationSummary:
    """Ground-truth counts of one simulated stream and where it went."""

    count: int
    seed: int
    faults: str
    types: tuple[str, ...]
    span_s: float
    destination: str
    by_expected: Mapping[str, int]
    by_quarantine: Mapping[str, int]
    by_fault: Mapping[str, int]
    by_type: Mapping[str, int]
    by_encoding: Mapping[str, int]
    labels: Mapping[str, int]
    generate_s: float
    write_s: float
    delivered: int | None = None  # Kafka only
    failed: int | None = None  # Kafka only
    errors: tuple[str, ...] = ()
    files: tuple[Path, ...] = ()
    skipped_not_json: int = 0  # JSONL only: messages with no JSON form

    @property
    def ok(self) -> bool:
        return not self.failed and not self.errors

    def __str__(self) -> str:
        def counts(mapping: Mapping[str, int], order: Sequence[str] = ()) -> str:
            keys = [k for k in order if k in mapping] + sorted(k for k in mapping if k not in order)
            return ", ".join(f"{k} {mapping[k]:,}" for k in keys) or "-"

        lines = [
            f"simulated {self.count:,} messages (seed {self.seed}, span {self.span_s:g} s, faults {self.faults}) "
            f"-> {self.destination}",
            f"  expected:   {counts(self.by_expected, EXPECTED_OUTCOMES)}",
            f"  quarantine: {counts(self.by_quarantine)}",
            f"  faults:     {counts(self.by_fault)}",
            f"  types:      {counts(self.by_type, self.types)}",
            f"  encoding:   {counts(self.by_encoding, ('json', 'avro'))}",
            f"  labels:     {counts(self.labels)}",
        ]
        if self.delivered is not None:
            lines.append(f"  delivered:  {self.delivered:,} of {self.count:,} ({self.failed or 0:,} failed)")
        if self.files:
            lines.append(f"  files:      {', '.join(str(p) for p in self.files)}")
            if self.skipped_not_json:
                lines.append(f"  not in the JSONL (no JSON form): {self.skipped_not_json:,}")
        lines.extend(f"  error: {e}" for e in self.errors)
        lines.append(f"  took {self.generate_s:.2f} s to generate, {self.write_s:.2f} s to write")
        return "\n".join(lines)


def run_simulate(
    settings: Settings,
    *,
    count: int,
    seed: int,
    faults_spec: str | None,
    out: Path | None,
    topic: str | None,
    types: Sequence[str] | None,
    span_s: float,
    manifest: Path | None = None,
    start_ms: int | None = None,
    drift: str | None = None,
) -> SimulationSummary:
    """Generate ``count`` messages and write them to ``out`` (JSONL) or else to Kafka.

    ``faults_spec`` is parsed by ``FaultMix.parse`` (None: the default mix). With ``out``, the
    labels go to ``<stem>.labels.jsonl`` and the ground truth to ``<stem>.manifest.jsonl``; with
    Kafka (``topic``, default ``settings.topics.raw``) the manifest is written only if
    ``manifest`` is given, and then includes each message's partition and offset.
    ``drift`` (``processor.devtools.simulate.drift``, e.g. ``shift=3,nulls=0.3``) injects drift into the valid
    events. Bad arguments raise ``ConfigError``.
    """
    try:
        mix = FaultMix.parse(faults_spec)
    except ValueError as exc:
        raise ConfigError("invalid_faults", str(exc)) from None
    chosen = tuple(types) if types else ALL_TYPES
    unknown = [t for t in chosen if t not in ALL_TYPES]
    if unknown:
        raise ConfigError("unknown_event_type", f"cannot simulate {unknown}; choose from {', '.join(ALL_TYPES)}")
    if count < 0 or span_s < 0:
        raise ConfigError("invalid_simulation", f"count ({count}) and span_s ({span_s}) must be >= 0")

    started = time.monotonic()
    messages = simulate(
        count,
        seed=seed,
        types=chosen,
        faults=mix,
        schemas=SchemaStore(settings.schemas_dir),
        start_ms=start_ms,
        span_s=span_s,
        max_message_bytes=settings.processing.max_message_bytes,
    )
    if drift:
        messages = _drifted(messages, drift, settings, seed)
    generated = time.monotonic()
    counts = summarize(messages)
    summary = SimulationSummary(
        count=len(messages),
        seed=seed,
        faults=(faults_spec or "default") + (f", drift {drift}" if drift else ""),
        types=chosen,
        span_s=span_s,
        destination="",
        by_expected=counts["by_expected"],
        by_quarantine=counts["by_quarantine"],
        by_fault=counts["by_fault"],
        by_type=counts["by_type"],
        by_encoding=counts["by_encoding"],
        labels=counts["labels"],
        generate_s=generated - started,
        write_s=0.0,
    )
    if out is not None:
        report = write_jsonl(out, messages)
        manifest = manifest or manifest_path_for(out)
        write_manifest(manifest, messages)
        return replace(
            summary,
            destination=f"file {out}",
            write_s=time.monotonic() - generated,
            files=(report.events_path, report.labels_path, manifest),
            skipped_not_json=report.skipped_not_json,
        )
    target = topic or settings.topics.raw
    delivery = produce_to_kafka(messages, topic=target, client_config=settings.kafka.client_config())
    if manifest is not None:
        write_manifest(manifest, messages, positions=delivery.positions)
    return replace(
        summary,
        destination=f"Kafka topic {target} at {settings.kafka.bootstrap_servers}",
        write_s=time.monotonic() - generated,
        delivered=delivery.delivered,
        failed=delivery.failed,
        errors=delivery.errors,
        files=(manifest,) if manifest is not None else (),
    )


def _drifted(messages: list[SimulatedMessage], drift: str, settings: Settings, seed: int) -> list[SimulatedMessage]:
    from processor.config import load_pipelines
    from processor.devtools.simulate.drift import DriftSpec, apply_drift

    try:
        spec = DriftSpec.parse(drift)
    except ValueError as exc:
        raise ConfigError("invalid_drift", str(exc)) from None
    schemas = SchemaStore(settings.schemas_dir)
    return apply_drift(messages, spec, schemas=schemas, pipelines=load_pipelines(settings.pipelines_file), seed=seed)
