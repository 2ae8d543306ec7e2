"""Simulated event streams with ground truth: realistic events, a controllable fault mix.

- ``generators``: valid ``user_signed_up`` and ``document_uploaded`` events with labels;
- ``jira_dataset``: real Apache Hadoop Jira bugs as ``jira_ticket_created`` events
  (data set and attribution: ``data/jira-hadoop/``, see its ``NOTICE.md``);
- ``faults`` / ``corruptions``: which faults, how many, and how each breaks a message;
- ``stream``: ``simulate()`` interleaves the types and records each message's expected outcome;
- ``sinks``: Kafka, JSONL (+ labels) and the ground-truth manifest;
- ``run``: ``run_simulate()`` for the CLI and the demo.
"""

from processor.devtools.simulate.faults import FAULT_KINDS, QUARANTINE_TRUTH, FaultMix
from processor.devtools.simulate.generators import DocumentUploadGenerator, GeneratedEvent, UserSignupGenerator
from processor.devtools.simulate.jira_dataset import JiraReplay, JiraTicket, load_tickets
from processor.devtools.simulate.run import SimulationSummary, run_simulate
from processor.devtools.simulate.sinks import (
    DeliveryReport,
    FileReport,
    produce_to_kafka,
    write_jsonl,
    write_manifest,
)
from processor.devtools.simulate.stream import ALL_TYPES, DEFAULT_MIX, SimulatedMessage, simulate, summarize

__all__ = [
    "ALL_TYPES",
    "DEFAULT_MIX",
    "FAULT_KINDS",
    "QUARANTINE_TRUTH",
    "DeliveryReport",
    "DocumentUploadGenerator",
    "FaultMix",
    "FileReport",
    "GeneratedEvent",
    "JiraReplay",
    "JiraTicket",
    "SimulatedMessage",
    "SimulationSummary",
    "UserSignupGenerator",
    "load_tickets",
    "produce_to_kafka",
    "run_simulate",
    "simulate",
    "summarize",
    "write_jsonl",
    "write_manifest",
]
