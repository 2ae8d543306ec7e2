"""``processor schemas register``: publish schemas/ to the schema registry.

Input schemas go in version order (v1 before v2), so the registry checks each new version against
the ones before it; the output schemas the ``avro-registry`` format writes go under their topics.
Every subject gets the configured compatibility level (BACKWARD by default) before its first
version. A version the registry refuses stops the command with the registry's own explanation;
what was already registered stays registered (registering again is a no-op that returns the id).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from typing import Any, TextIO

from processor.config import Settings, load_settings
from processor.errors import ConfigError

#: The outputs ``outputs.format: avro-registry`` writes, with the topic setting each goes to.
OUTPUTS = (("scored", "scored"), ("review", "review"), ("quarantine", "quarantine"))


@dataclass(frozen=True)
class Candidate:
    subject: str
    label: str  # the file it comes from, for people
    schema: dict[str, Any]


def add_schemas_parser(sub: Any) -> None:
    """``processor schemas register`` (the parser hook of processor/cli.py)."""
    schemas = sub.add_parser("schemas", help="the Avro schemas of schemas/ and the schema registry")
    schemas_sub = schemas.add_subparsers(dest="schemas_command", required=True)
    register = schemas_sub.add_parser(
        "register",
        help="publish schemas/input (and the outputs) to the registry under the configured subject strategy",
    )
    register.add_argument(
        "--what", choices=["all", "input", "output"], default="all", help="which schemas (default: all)"
    )
    register.add_argument("--dry-run", action="store_true", help="list the subjects, register nothing")
    register.set_defaults(func=cmd_schemas_register)


def cmd_schemas_register(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    return register(settings, args.what, dry_run=args.dry_run)


def candidates(settings: Settings, what: str) -> list[Candidate]:
    """What to register, in order: each input type's versions ascending, then the outputs."""
    from processor.serializers.registry import subject_for
    from processor.serializers.schemas import SchemaStore

    store = SchemaStore(settings.schemas_dir)
    strategy = settings.schema_registry.subject_strategy
    out: list[Candidate] = []
    if what in ("all", "input"):
        names = store.names()
        if strategy == "topic" and len(names) > 1:
            raise ConfigError(
                "subject_strategy_conflict",
                f"subject_strategy topic puts every event type of {settings.topics.raw} under one subject "
                f"({settings.topics.raw}-value), and {len(names)} record types ({', '.join(names)}) cannot be "
                "versions of one subject: use subject_strategy record, or --what output",
            )
        for name in names:
            for version in store.versions(name):
                entry = store.get(name, version)
                assert entry is not None
                subject = subject_for(strategy, settings.topics.raw, entry.schema)
                out.append(Candidate(subject, f"input/{name}.v{version}.avsc", entry.schema))
    if what in ("all", "output"):
        for schema_name, topic_field in OUTPUTS:
            topic = getattr(settings.topics, topic_field)
            schema = store.output_json[schema_name]
            out.append(Candidate(subject_for(strategy, topic, schema), f"output/{schema_name}.avsc", schema))
    return out


def register(settings: Settings, what: str, *, dry_run: bool = False, out: TextIO = sys.stdout) -> int:
    """0 when every schema is registered (or already was), 1 when the registry refused one."""
    from confluent_kafka.schema_registry import Schema
    from confluent_kafka.schema_registry.error import SchemaRegistryError

    from processor.serializers.registry import is_unavailable, make_client

    if settings.schema_registry.url is None:
        raise ConfigError("schema_registry_not_configured", "set schema_registry.url (PROCESSOR_SCHEMA_REGISTRY__URL)")
    todo = candidates(settings, what)
    level = settings.schema_registry.compatibility
    print(
        f"{settings.schema_registry.url}: {len(todo)} schemas, subject strategy "
        f"{settings.schema_registry.subject_strategy}, compatibility {level}",
        file=out,
    )
    if dry_run:
        for c in todo:
            print(f"  {c.subject:<48} {c.label}", file=out)
        return 0
    client = make_client(settings.schema_registry)
    configured: set[str] = set()
    try:
        for c in todo:
            schema = Schema(json.dumps(c.schema), "AVRO")
            if c.subject not in configured:
                client.set_compatibility(c.subject, level)
                configured.add(c.subject)
            try:
                existing = client.lookup_schema(c.subject, schema)
                print(f"  {c.subject:<48} {c.label:<36} unchanged, id {existing.schema_id}", file=out)
                continue
            except SchemaRegistryError as exc:
                if exc.http_status_code != 404:
                    raise
            try:
                schema_id = client.register_schema(c.subject, schema)
            except SchemaRegistryError as exc:
                if exc.http_status_code in (409, 422):
                    print(f"  {c.subject:<48} {c.label:<36} REFUSED", file=out)
                    print(
                        f"the registry refused {c.label} as a new version of {c.subject} "
                        f"(compatibility {level}):\n  {exc.error_message}",
                        file=out,
                    )
                    return 1
                raise
            print(f"  {c.subject:<48} {c.label:<36} registered, id {schema_id}", file=out)
    except Exception as exc:
        if is_unavailable(exc):
            print(f"the schema registry at {settings.schema_registry.url} does not answer: {exc}", file=out)
            return 3
        raise
    finally:
        client.close()
    return 0
