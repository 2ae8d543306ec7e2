"""``processor quarantine list | show | replay``: the operator's view of the quarantine topic."""

from __future__ import annotations

import argparse
import base64
import getpass
import json
import sys
from datetime import UTC, datetime
from typing import Any

from processor.config import Settings, load_settings, project_override
from processor.errors import QUARANTINE_STAGES
from processor.quarantine.records import (
    QuarantinedRecord,
    QuarantineFilter,
    parse_coordinate,
    parse_time,
    read_one,
    read_quarantine,
)


def _ledger(settings: Settings) -> Any:
    from processor.quarantine.replay import ReplayLedger
    from processor.state.redis_client import connect

    return ReplayLedger(connect(settings.redis), settings.redis.key_prefix, settings.quarantine.replay_ledger_ttl_s)


def _selection(args: argparse.Namespace) -> QuarantineFilter:
    return QuarantineFilter(
        stage=args.stage,
        error_code=args.error_code,
        event_type=args.event_type,
        since_ms=parse_time(args.since) if args.since else None,
        until_ms=parse_time(args.until) if args.until else None,
    )


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _bytes_view(data: bytes | None) -> dict[str, Any] | None:
    """UTF-8 text when it is text (most JSON inputs), base64 otherwise: the bytes are never altered."""
    if data is None:
        return None
    try:
        return {"utf8": data.decode("utf-8"), "bytes": len(data)}
    except UnicodeDecodeError:
        return {"base64": base64.b64encode(data).decode("ascii"), "bytes": len(data)}


def _as_dict(record: QuarantinedRecord, replayed: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "coordinate": record.coordinate,
        "quarantined_at": _iso(record.quarantined_at),
        "stage": record.stage,
        "error_code": record.error_code,
        "error_message": record.error_message,
        "field": record.field,
        "event_type": record.event_type,
        "event_id": record.event_id,
        "source": record.source_position,
        "key": _bytes_view(record.key),
        "value": _bytes_view(record.value),
        "headers": {name: _bytes_view(value) for name, value in record.headers},
        "replayed": replayed,
    }


def cmd_list(args: argparse.Namespace) -> int:
    settings = load_settings(args.config, **project_override(args))
    records, unreadable = read_quarantine(settings, _selection(args))
    replayed = _ledger(settings).replayed([r.coordinate for r in records])
    shown = records[-args.limit :] if args.limit else records
    if args.json:
        print(json.dumps([_as_dict(r, replayed.get(r.coordinate)) for r in shown], indent=2))
    else:
        print(f"{'record':<30} {'quarantined_at':<21} {'stage':<10} {'error_code':<26} {'event_type':<20} replayed")
        for r in shown:
            mark = "yes" if r.coordinate in replayed else "-"
            print(
                f"{r.coordinate:<30} {_iso(r.quarantined_at):<21} {r.stage:<10} {r.error_code:<26} "
                f"{r.event_type or '-':<20} {mark}"
            )
        print(f"{len(records)} matching ({len(shown)} shown), {len(replayed)} of them already replayed")
    if unreadable:
        print(f"WARNING: {unreadable} quarantine records could not be read", file=sys.stderr)
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    settings = load_settings(args.config, **project_override(args))
    topic, partition, offset = parse_coordinate(args.record, settings.topics.quarantine)
    if topic != settings.topics.quarantine:
        # an input position (what a quarantine log line prints): the records that answered it
        return _show_by_source(settings, f"{topic}:{partition}:{offset}")
    record = read_one(settings, partition, offset)
    if record is not None:
        replayed = _ledger(settings).replayed([record.coordinate]).get(record.coordinate)
        print(json.dumps(_as_dict(record, replayed), indent=2))
        return 0
    print(f"no committed quarantine record at {topic}:{partition}:{offset}", file=sys.stderr)
    return 1


def _show_by_source(settings: Settings, position: str) -> int:
    records, unreadable = read_quarantine(settings, QuarantineFilter())
    found = [r for r in records if r.source_position == position]
    if unreadable:
        print(f"WARNING: {unreadable} quarantine records could not be read", file=sys.stderr)
    if not found:
        print(
            f"no committed quarantine record answers the input {position} (in {settings.topics.quarantine})",
            file=sys.stderr,
        )
        return 1
    ledger = _ledger(settings).replayed([r.coordinate for r in found])
    for record in found:  # more than one when a replay of it was quarantined again
        print(json.dumps(_as_dict(record, ledger.get(record.coordinate)), indent=2))
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    from processor.quarantine.replay import replay

    settings = load_settings(args.config, **project_override(args))
    selection = _selection(args)
    if selection.is_empty and not args.all:
        print(
            "select what to replay (--stage, --error-code, --event-type, --since, --until) or say --all",
            file=sys.stderr,
        )
        return 2
    records, unreadable = read_quarantine(settings, selection)
    if unreadable:
        print(f"WARNING: {unreadable} quarantine records could not be read and are not replayed", file=sys.stderr)
    report = replay(
        settings,
        records,
        _ledger(settings),
        replayed_by=args.by or getpass.getuser(),
        force=args.force,
        dry_run=args.dry_run,
    )
    if args.dry_run:
        print(f"dry run: would replay {len(report.replayed)} to {settings.topics.raw}")
    print(report.render())
    return 1 if report.failed else 0


def add_parser(sub: Any) -> None:
    """Register ``quarantine`` and its subcommands on the top-level parser's subparsers."""
    q = sub.add_parser("quarantine", help="list, show and replay quarantined records")
    q_sub = q.add_subparsers(dest="quarantine_command", required=True)

    def filters(p: argparse.ArgumentParser) -> None:
        p.add_argument("--stage", choices=list(QUARANTINE_STAGES), default=None)
        p.add_argument("--error-code", default=None, help="e.g. unknown_schema_version")
        p.add_argument("--event-type", default=None)
        p.add_argument("--since", default=None, help="quarantined at or after: epoch ms, RFC 3339, or 30m/2h/7d ago")
        p.add_argument("--until", default=None, help="quarantined before (same forms)")

    lst = q_sub.add_parser("list", help="the quarantine records that match the filters")
    filters(lst)
    lst.add_argument("--limit", type=int, default=50, help="show the last N (0: all)")
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(func=cmd_list)

    show = q_sub.add_parser("show", help="one quarantine record in full, with the original bytes")
    show.add_argument(
        "record",
        help="partition:offset or topic:partition:offset in the quarantine topic, or the input's "
        "topic:partition:offset (as the quarantine log line prints it)",
    )
    show.set_defaults(func=cmd_show)

    rep = q_sub.add_parser("replay", help="send the original bytes back to the input topic (after the fix)")
    filters(rep)
    rep.add_argument("--all", action="store_true", help="replay everything quarantined (no filter)")
    rep.add_argument("--dry-run", action="store_true", help="say what would be replayed, send nothing")
    rep.add_argument(
        "--force", action="store_true", help="ignore the replay ledger (the processor still drops a second copy)"
    )
    rep.add_argument("--by", default=None, help="who replays (default: the current user), recorded in the headers")
    rep.set_defaults(func=cmd_replay)
