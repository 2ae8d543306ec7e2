"""``processor init DIR --event-type NAME``: the skeleton of a project a team owns.

A project is a directory: ``pipelines.yaml``, ``schemas/input/<NAME>.v1.avsc``, ``features/<NAME>.py``,
``models/``. The skeleton works as written (sample data trains a model that scores), so a team
starts from something running and replaces the example fields with its own.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def add_parser(sub: Any) -> None:
    init = sub.add_parser("init", help="write a working project skeleton for your own event type")
    init.add_argument("dir", type=Path, help="the project directory (created; must be empty if it exists)")
    init.add_argument("--event-type", required=True, help="snake_case name, e.g. payment_authorized")
    init.add_argument("--force", action="store_true", help="write into a directory that is not empty")
    init.set_defaults(func=cmd_init)


def cmd_init(args: argparse.Namespace) -> int:
    try:
        written = write_project(args.dir, args.event_type, force=args.force)
    except ValueError as exc:
        print(f"processor init: {exc}", file=sys.stderr)
        return 2
    for path in written:
        print(f"wrote {path}")
    print(f"next: cd {args.dir} && see README.md (generate data, train, promote, run)")
    return 0


def write_project(root: Path, event_type: str, *, force: bool = False) -> list[Path]:
    """Write the skeleton; the paths written, in order."""
    if not _NAME.match(event_type):
        raise ValueError(f"event type {event_type!r} must be snake_case ([a-z][a-z0-9_]*): it names files and keys")
    if root.exists() and any(root.iterdir()) and not force:
        raise ValueError(f"{root} is not empty (pass --force to write into it anyway)")
    files = {
        "pipelines.yaml": _PIPELINES,
        f"schemas/input/{event_type}.v1.avsc": json.dumps(_schema(event_type), indent=2) + "\n",
        f"features/{event_type}.py": _FEATURES,
        "sample_data.py": _SAMPLE_DATA,
        "produce.py": _PRODUCE,
        "README.md": _README,
        "models/.gitkeep": "",
    }
    written = []
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text.replace("EVENT_TYPE", event_type), encoding="utf-8")
        written.append(path)
    return written


def _record_name(event_type: str) -> str:
    return "".join(part.capitalize() for part in event_type.split("_"))


def _schema(event_type: str) -> dict[str, Any]:
    nullable_string: list[Any] = ["null", "string"]
    return {
        "type": "record",
        "name": _record_name(event_type),
        "namespace": "events",
        "doc": "Schema version 1. The event type is this file's name (EVENT_TYPE.v1.avsc), not the record name.",
        "fields": [
            # -- the envelope: every input schema carries these ------------------------------
            {"name": "event_id", "type": "string", "doc": "Unique per event: the deduplication key."},
            {"name": "event_type", "type": "string", "doc": "Always 'EVENT_TYPE'."},
            {
                "name": "schema_version",
                "type": ["null", "int"],
                "default": None,
                "doc": "Writer schema version (JSON producers); latest when absent.",
            },
            {
                "name": "occurred_at",
                "type": {"type": "long", "logicalType": "timestamp-millis"},
                "doc": "Event time, epoch milliseconds (JSON may send an RFC 3339 string).",
            },
            {"name": "entity_id", "type": "string", "doc": "Ordering key: one entity's events in event-time order."},
            {"name": "sequence", "type": ["null", "long"], "default": None, "doc": "Per-entity sequence number."},
            {"name": "source", "type": nullable_string, "default": None, "doc": "Producing system."},
            # -- example fields, one of each kind: replace them with yours -------------------
            {"name": "amount", "type": "double", "doc": "A number (checked: min/max in pipelines.yaml)."},
            {"name": "quantity", "type": "int", "doc": "A whole number."},
            {"name": "category", "type": "string", "doc": "A category from a closed list (checked: one_of)."},
            {"name": "verified", "type": "boolean", "doc": "A yes/no."},
            {"name": "country", "type": nullable_string, "default": None, "doc": "An optional field."},
        ],
    }


_PIPELINES = """\
# The pipeline of each event type this project scores (docs/contracts.md in the processor's
# repository describes every key). Validated at start-up: a mistake stops the processor.
event_types:
  EVENT_TYPE:
    # schema: EVENT_TYPE        # schemas/input/<schema>.v<N>.avsc; default: the event type
    features: EVENT_TYPE         # features/EVENT_TYPE.py, or any importable dotted path (payments.features)
    validation: strict           # strict: reject off-schema input; tolerant: coerce "42" -> 42, fill defaults
    late_policy: flag            # flag: process late events and mark them; quarantine: reject them
    positive_label: positive     # the label (labels.jsonl) the model learns to score high
    checks:                      # semantic checks, beyond the Avro types
      - {field: amount, min: 0, max: 1000000}
      - {field: category, one_of: [a, b, c, d]}
      - {field: country, pattern: '[A-Z]{2}'}
    decision:
      bands:                     # the highest min_score a score reaches decides
        - {min_score: 0.70, decision: decline, category: high_risk}
        - {min_score: 0.0, decision: approve, category: low_risk}
      review_band: {low: 0.40, high: 0.70}   # scores in [low, high) go to a person (the review topic)
      fallback: {decision: review, category: unscored, route: review}   # when no model can score
    rules:                       # first match wins, over the model; action approve | block | review | categorize
      - id: very-large-amount
        when: {field: amount, gte: 500000}
        action: review
        category: large_amount
"""

_FEATURES = '''\
"""Features of EVENT_TYPE: the same code runs in training and in the processor.

The contract (the processor checks it at start-up and stops, naming the rule, when it is broken):

- HISTORY: per-key counters of earlier events. The processor keeps them in Redis, training in
  memory; each counts the events with the same key_field value in [t - window_ms, t), strictly
  before the event itself. key_field must be a field of the schema.
- FEATURE_NAMES: the names of the vector compute returns, in order, no repeats, every history
  counter's name among them.
- compute(record, history): the vector of one validated record (every schema field present,
  optional ones None). history maps each counter's name to its count. Return floats; a missing
  value is math.nan. An exception quarantines that one event (stage "features").

Keep it pure and fast: it runs once per event on the serving path.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from processor.model.features import HistoryCounter

_HOUR_MS = 3_600_000

HISTORY: tuple[HistoryCounter, ...] = (
    # how many events the same entity sent in the hour before this one
    HistoryCounter("events_same_entity_1h", "entity_id", _HOUR_MS),
)

# categorical values as fixed codes: the meaning of a code must not change between model versions
_CATEGORIES = {"a": 0.0, "b": 1.0, "c": 2.0, "d": 3.0}

FEATURE_NAMES: tuple[str, ...] = (
    "amount",
    "log_amount",
    "quantity",
    "category_code",
    "verified",
    "country_missing",
    *(counter.name for counter in HISTORY),
)


def compute(record: Mapping[str, Any], history: Mapping[str, int]) -> list[float]:
    amount = float(record["amount"])
    return [
        amount,
        math.log1p(max(amount, 0.0)),
        float(record["quantity"]),
        _CATEGORIES.get(record["category"], math.nan),
        1.0 if record["verified"] else 0.0,
        1.0 if record["country"] is None else 0.0,
        *(float(history.get(counter.name, 0)) for counter in HISTORY),
    ]
'''

_SAMPLE_DATA = '''\
"""Labelled sample events: data/events.jsonl (one JSON event a line) and data/labels.jsonl.

    python sample_data.py --count 5000 --out data

Replace make_event with what your events look like; the labels of real data come from your
systems (chargebacks, confirmed abuse) or from the review topic's decisions.
"""

from __future__ import annotations

import argparse
import json
import random
import time
import uuid
from pathlib import Path
from typing import Any

EVENT_TYPE = "EVENT_TYPE"


def make_event(rng: random.Random, occurred_at: int) -> tuple[dict[str, Any], bool]:
    """One event and whether it is positive (positive_label in pipelines.yaml)."""
    positive = rng.random() < 0.15
    amount = rng.lognormvariate(7.5 if positive else 5.0, 1.0)
    return {
        "event_id": str(uuid.UUID(int=rng.getrandbits(128))),
        "event_type": EVENT_TYPE,
        "occurred_at": occurred_at,
        "entity_id": f"acct-{rng.randrange(400)}",
        "amount": round(min(amount, 400_000.0), 2),
        "quantity": rng.randint(1, 3) if not positive else rng.randint(1, 12),
        "category": rng.choice("abcd" if not positive else "cdd"),
        "verified": rng.random() < (0.3 if positive else 0.85),
        "country": rng.choice([None, "US", "GB", "DE"] if positive else ["US", "GB", "DE", "FR"]),
    }, positive


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--out", type=Path, default=Path("data"))
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--span-s", type=float, default=6 * 3600, help="event times spread over this, ending now")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    now = int(time.time() * 1000)
    start = now - int(args.span_s * 1000)
    args.out.mkdir(parents=True, exist_ok=True)
    with (args.out / "events.jsonl").open("w") as events, (args.out / "labels.jsonl").open("w") as labels:
        for i in range(args.count):
            event, positive = make_event(rng, start + (now - start) * i // max(args.count, 1))
            events.write(json.dumps(event) + "\\n")
            labels.write(json.dumps({"event_id": event["event_id"], "label": "positive" if positive else "negative"}) + "\\n")
    print(f"wrote {args.count} events to {args.out}/events.jsonl and their labels to {args.out}/labels.jsonl")


if __name__ == "__main__":
    main()
'''

_PRODUCE = '''\
"""Send events to the processor's input topic, as JSON or as Avro single-object encoding.

    python produce.py data/events.jsonl --topic events.raw --format json
    python produce.py data/events.jsonl --topic events.raw --format avro

Avro single-object encoding (the Avro specification's framing, no schema registry):
    bytes 0-1   C3 01                     marker
    bytes 2-9   CRC-64-AVRO fingerprint   of the schema's parsing canonical form, little-endian
    bytes 10-   the record, Avro binary
The processor finds the writer schema by the fingerprint among schemas/input/*.avsc.
Key each record by entity_id: one entity's events then share a partition and keep their order.
"""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path
from typing import Any

import fastavro
from confluent_kafka import Producer
from fastavro.schema import fingerprint, to_parsing_canonical_form

EVENT_TYPE = "EVENT_TYPE"


def avro_encoder(schema_file: Path) -> Any:
    schema = json.loads(schema_file.read_text())
    parsed = fastavro.parse_schema(schema)
    # fastavro spells the fingerprint as the hex of its little-endian bytes: the wire order
    header = b"\\xc3\\x01" + bytes.fromhex(fingerprint(to_parsing_canonical_form(schema), "CRC-64-AVRO"))

    def encode(event: dict[str, Any]) -> bytes:
        record = {field["name"]: event.get(field["name"], field.get("default")) for field in schema["fields"]}
        buf = io.BytesIO(header)
        buf.seek(len(header))
        fastavro.schemaless_writer(buf, parsed, record)
        return buf.getvalue()

    return encode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("events", type=Path, help="JSONL, one event a line (sample_data.py writes one)")
    parser.add_argument("--topic", default="events.raw")
    parser.add_argument("--bootstrap-servers", default="localhost:9092")
    parser.add_argument("--format", choices=["json", "avro"], default="json")
    parser.add_argument("--schema", type=Path, default=Path(f"schemas/input/{EVENT_TYPE}.v1.avsc"))
    parser.add_argument("--skip", type=int, default=0, help="leave out the first N events")
    parser.add_argument("--limit", type=int, default=None, help="send at most N events")
    args = parser.parse_args()
    encode = avro_encoder(args.schema) if args.format == "avro" else (lambda e: json.dumps(e).encode())
    producer = Producer({"bootstrap.servers": args.bootstrap_servers, "enable.idempotence": True})
    sent = 0
    with args.events.open() as lines:
        for number, line in enumerate(lines):
            if number < args.skip:
                continue
            if args.limit is not None and sent >= args.limit:
                break
            event = json.loads(line)
            producer.produce(args.topic, key=event["entity_id"].encode(), value=encode(event))
            producer.poll(0)
            sent += 1
    if producer.flush(30):
        raise SystemExit("some events were not delivered within 30 s")
    print(f"sent {sent} {args.format} events to {args.topic}")


if __name__ == "__main__":
    main()
'''

_README = """\
# EVENT_TYPE: a project of the event processor

Everything the processor needs to score `EVENT_TYPE` lives here:

| path | what |
|---|---|
| `pipelines.yaml` | validation, semantic checks, decision bands, review band, fallback, rules |
| `schemas/input/EVENT_TYPE.v1.avsc` | the Avro schema (envelope + your fields); a new version is a new file `.v2.avsc` |
| `features/EVENT_TYPE.py` | the feature code, the same in training and serving |
| `models/` | trained model versions (`models/EVENT_TYPE/<version>/`) |
| `sample_data.py` | labelled sample events, to start before real data exists |
| `produce.py` | sends JSONL events as JSON or Avro single-object encoding |

Run every command from this directory (or pass `--project DIR`, or set `PROCESSOR_PROJECT_DIR`).
Kafka and Redis default to `localhost:9092` and `redis://localhost:6379/0`
(`PROCESSOR_KAFKA__BOOTSTRAP_SERVERS`, `PROCESSOR_REDIS__URL`).

```sh
python sample_data.py --count 5000 --out data                  # labelled sample data
processor train --event-type EVENT_TYPE --events data/events.jsonl --labels data/labels.jsonl
processor model list --event-type EVENT_TYPE                    # the version train printed
processor model promote VERSION --event-type EVENT_TYPE --reason "first model"
processor topics create                                         # events.raw, events.scored, ...
python produce.py data/events.jsonl --topic events.raw --format json --limit 500
python produce.py data/events.jsonl --topic events.raw --format avro --limit 500
processor run --max-idle 10                                     # score until 10 s without input
processor audit                                                 # every input has exactly one outcome
```

Decisions land on `events.scored` (and `events.review` for a person, `events.quarantine` for
input that could not be processed, with the reason). Read them with
`isolation.level=read_committed`: the processor writes in transactions.
"""
