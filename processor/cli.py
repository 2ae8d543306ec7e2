"""The ``processor`` command: run, topics, simulate, train, audit, status, killswitch, rules, quarantine,
config, ingest, review, demo."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from processor import __version__
from processor.config import Settings, load_pipelines, load_settings, project_override
from processor.errors import ConfigError


def _settings(args: argparse.Namespace) -> Settings:
    return load_settings(args.config, **project_override(args))


def cmd_run(args: argparse.Namespace) -> int:
    from processor.app import Processor, freeze_startup_heap
    from processor.logs import masked_settings
    from processor.state.reorder_store import OwnershipLostError

    settings = _settings(args)
    logging.getLogger("processor").info(
        "starting processor %s", __version__, extra={"version": __version__, "settings": masked_settings(settings)}
    )
    pipelines = load_pipelines(settings.pipelines_file)
    processor = Processor(settings, pipelines)
    if settings.metrics.enabled:
        from processor.monitoring.http import serve

        serve(processor.metrics.registry, processor.health, settings.metrics.host, settings.metrics.port)
    processor.install_signal_handlers()
    freeze_startup_heap()
    try:
        summary = processor.run(max_idle_s=args.max_idle)
    except OwnershipLostError as exc:
        # this process was paused or cut off while its partitions moved to another: it is a
        # zombie, and the only safe thing left is to stop; a supervisor restarts it cleanly
        logging.getLogger("processor").error("fenced, exiting: %s", exc, extra={"error_code": exc.code})
        return 3
    logging.getLogger("processor").info(
        "stopped: %d inputs, outcomes %s, %d transactions, %d aborted",
        summary.inputs,
        dict(summary.outcomes),
        summary.transactions,
        summary.aborts,
        extra={
            "inputs": summary.inputs,
            "outcomes": dict(summary.outcomes),
            "transactions": summary.transactions,
            "aborts": summary.aborts,
        },
    )
    return 0


def cmd_topics_create(args: argparse.Namespace) -> int:
    from processor.kafka.admin import create_topics

    overrides = {}
    if args.raw_partitions is not None:
        overrides["raw_partitions"] = args.raw_partitions
    if args.output_partitions is not None:
        overrides["output_partitions"] = args.output_partitions
    settings = _settings(args)
    if overrides:
        settings = settings.model_copy(update={"topics": settings.topics.model_copy(update=overrides)})
    for result in create_topics(settings):
        state = "created" if result.created else "exists"
        print(f"{result.name:<32} {result.partitions:>3} partitions  {state}")
    return 0


def cmd_simulate(args: argparse.Namespace) -> int:
    from processor.devtools.simulate import run_simulate

    settings = _settings(args)
    summary = run_simulate(
        settings,
        count=args.count,
        seed=args.seed,
        faults_spec=args.faults,
        out=args.out,
        topic=args.topic,
        types=tuple(args.types.split(",")) if args.types else None,
        span_s=args.span_s,
        drift=args.drift,
    )
    print(summary)
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from processor.train_cli import run_train

    return run_train(_settings(args), args)


def cmd_model(args: argparse.Namespace) -> int:
    from processor.serving.registry_cli import run_model_command

    return run_model_command(_settings(args), args)


def cmd_audit(args: argparse.Namespace) -> int:
    from processor.audit import audit

    report = audit(_settings(args))
    if args.json:
        print(json.dumps({"identity_holds": report.identity_holds, "problems": report.problems()}, indent=2))
    else:
        print(
            f"inputs {report.inputs} = scored {report.scored} + review {report.review} + quarantined "
            f"{report.quarantined} + duplicates dropped {report.duplicates_dropped}"
        )
        for problem in report.problems():
            print(f"PROBLEM: {problem}")
        print("accounting identity:", "HOLDS" if report.identity_holds else "BROKEN")
    return 0 if report.identity_holds else 1


def cmd_killswitch(args: argparse.Namespace) -> int:
    import getpass

    from processor.decide.killswitch import GLOBAL, Mode, read_switch, set_switch
    from processor.state.keys import Keys
    from processor.state.redis_client import connect

    settings = _settings(args)
    client = connect(settings.redis)
    keys = Keys(settings.redis.key_prefix)
    scopes = [GLOBAL, *load_pipelines(settings.pipelines_file).event_types]
    if args.event_type is not None and args.event_type not in scopes:
        raise ConfigError("unknown_event_type", f"no pipeline for event type {args.event_type!r}: one of {scopes[1:]}")
    scope = args.event_type or GLOBAL
    if args.action in ("on", "off"):
        if not args.reason:
            print("a --reason is required: the next person on call needs to know why", file=sys.stderr)
            return 2
        mode: Mode = args.mode if args.action == "on" else "off"
        state = set_switch(client, keys, scope, mode, args.reason, getpass.getuser())
        print(f"kill switch {scope}: {state.mode} since {state.since} ({state.reason})")
        return 0
    for name in scopes:
        state = read_switch(client, keys, name)
        detail = "" if state.mode == "off" else f"  since {state.since or '?'} by {state.by or '?'}: {state.reason}"
        print(f"{name:<24} {state.mode:<9}{detail}")
    print(f"(keys: {keys.killswitch(GLOBAL)}, {keys.killswitch('<event_type>')}; values off|fallback|review)")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from processor.status.collect import Targets, collect
    from processor.status.report import render

    settings = _settings(args)
    targets = Targets.from_settings(settings, args.processor_url, args.review_url, args.interval)
    report = collect(settings, list(load_pipelines(settings.pipelines_file).event_types), targets)
    print(json.dumps(report.to_json(), indent=2) if args.json else render(report))
    return 0 if not report.problems else 1


def cmd_rules_test(args: argparse.Namespace) -> int:
    from processor.decide.backtest import backtest

    settings = _settings(args)
    report = backtest(settings, load_pipelines(settings.pipelines_file), args.events, args.event_type)
    print(report.render())
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from processor.devtools.demo import run_demo

    return run_demo(_settings(args), count=args.count, seed=args.seed)


def cmd_ingest_serve(args: argparse.Namespace) -> int:
    from processor.ingest.app import serve

    settings = _settings(args)
    overrides = {k: v for k, v in (("host", args.host), ("port", args.port)) if v is not None}
    if overrides:
        settings = settings.model_copy(update={"ingest": settings.ingest.model_copy(update=overrides)})
    serve(settings)
    return 0


def cmd_ingest_hash_token(args: argparse.Namespace) -> int:
    from processor.ingest.auth import hash_token, new_token

    given = sys.stdin.readline().strip() if args.stdin else None
    token = given or new_token()
    if not given:
        print(f"token (give it to the client, store it nowhere else): {token}")
    print(f"hash (put it in PROCESSOR_INGEST__API_TOKENS): {hash_token(token)}")
    return 0


def cmd_review_serve(args: argparse.Namespace) -> int:
    from processor.review.server import serve

    settings = _settings(args)
    updates = {k: v for k, v in (("host", args.host), ("port", args.port)) if v is not None}
    if updates:
        settings = settings.model_copy(update={"review": settings.review.model_copy(update=updates)})
    return serve(settings, load_pipelines(settings.pipelines_file))


def cmd_review_next(args: argparse.Namespace) -> int:
    import getpass

    from processor.review.security import Authenticator
    from processor.review.server import build_context
    from processor.review.terminal import review_next

    settings = _settings(args)
    password = sys.stdin.readline().rstrip("\n") if args.password_stdin else getpass.getpass("password: ")
    if not Authenticator(settings.review.reviewers).check(args.reviewer, password):
        print("unknown reviewer or wrong password", file=sys.stderr)
        return 2
    ctx = build_context(settings, load_pipelines(settings.pipelines_file), with_ingest=not args.no_sync)
    try:
        if ctx.ingest is not None and not ctx.ingest.catch_up(timeout_s=60):
            print("warning: could not catch up with the review topic in 60 s; the queue may be behind", file=sys.stderr)

        def read(prompt: str) -> str:
            print(prompt, end="", flush=True)
            line = sys.stdin.readline()
            return line.rstrip("\n") if line else "q"

        decided = review_next(
            ctx.store,
            ctx.service,
            args.reviewer,
            sla_s=settings.review.sla_seconds,
            read=read,
            out=sys.stdout,
            once=args.once,
        )
        print(f"{decided} decided")
    finally:
        if ctx.ingest is not None:
            ctx.ingest.close()
        ctx.service.close()
    return 0


def cmd_review_hash_password(args: argparse.Namespace) -> int:
    import getpass

    from processor.review.passwords import hash_password

    if args.stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("password: ")
        if getpass.getpass("again: ") != password:
            print("the passwords differ", file=sys.stderr)
            return 2
    if len(password) < 8:
        print("use at least 8 characters", file=sys.stderr)
        return 2
    print(hash_password(password))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="processor", description=__doc__)
    parser.add_argument("--version", action="version", version=__version__)
    parser.add_argument("--config", type=Path, default=None, help="YAML settings file (environment wins over it)")
    parser.add_argument(
        "--project", type=Path, default=None, metavar="DIR", help="project directory (default: settings.project_dir)"
    )
    parser.add_argument("--log-level", default=None, help="DEBUG, INFO, WARNING... (default: settings.log_level)")
    parser.add_argument(
        "--log-format", choices=["json", "text"], default=None, help="default: settings.log_format (auto)"
    )
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="consume, score and route events exactly once")
    run.add_argument(
        "--max-idle", type=float, default=None, metavar="SECONDS", help="exit after this long without input"
    )
    run.set_defaults(func=cmd_run)

    topics = sub.add_parser("topics", help="manage the processor's topics")
    topics_sub = topics.add_subparsers(dest="topics_command", required=True)
    create = topics_sub.add_parser("create", help="create the input and output topics (idempotent)")
    create.add_argument("--raw-partitions", type=int, default=None)
    create.add_argument("--output-partitions", type=int, default=None)
    create.set_defaults(func=cmd_topics_create)

    sim = sub.add_parser("simulate", help="produce a realistic event stream with a fault mix")
    sim.add_argument("--count", type=int, default=20_000)
    sim.add_argument("--seed", type=int, default=1)
    sim.add_argument("--faults", default=None, help="'none', 'default', or kind=rate,... e.g. duplicate=0.05,late=0.01")
    sim.add_argument("--out", type=Path, default=None, help="write JSONL (plus .labels.jsonl) instead of Kafka")
    sim.add_argument("--topic", default=None, help="Kafka topic (default: settings.topics.raw)")
    sim.add_argument("--types", default=None, help="comma-separated event types (default: all three)")
    sim.add_argument("--span-s", type=float, default=3600.0, help="event-time span of synthetic events")
    sim.add_argument(
        "--drift",
        default=None,
        metavar="SPEC",
        help="inject drift into valid events: shift=FACTOR,new_categories=P,nulls=P (e.g. shift=3,nulls=0.3)",
    )
    sim.set_defaults(func=cmd_simulate)

    from processor.train_cli import add_train_arguments

    train = sub.add_parser("train", help="train a versioned LightGBM model for one event type")
    add_train_arguments(train)
    train.set_defaults(func=cmd_train)

    from processor.serving.registry_cli import add_model_parser

    add_model_parser(sub, cmd_model)

    from processor.serializers.register_cli import add_schemas_parser

    add_schemas_parser(sub)

    aud = sub.add_parser("audit", help="check the accounting identity over the input and output topics")
    aud.add_argument("--json", action="store_true")
    aud.set_defaults(func=cmd_audit)

    rules = sub.add_parser("rules", help="the decision rules of config/pipelines.yaml")
    rules_sub = rules.add_subparsers(dest="rules_command", required=True)
    rules_test = rules_sub.add_parser("test", help="backtest the current policy against a file of historical events")
    rules_test.add_argument(
        "--events", type=Path, required=True, help="JSONL events (as processor simulate --out writes)"
    )
    rules_test.add_argument("--event-type", default=None)
    rules_test.set_defaults(func=cmd_rules_test)

    st = sub.add_parser(
        "status",
        help="one screen for the operator: throughput, lag, kill switch, models, drift, quarantine, review backlog",
    )
    st.add_argument(
        "--processor-url",
        action="append",
        default=None,
        metavar="URL",
        help="a processor's /metrics, repeatable (default: settings.status.processor_urls)",
    )
    st.add_argument("--review-url", default=None, metavar="URL", help="the review app's /metrics ('' to skip)")
    st.add_argument(
        "--interval", type=float, default=None, metavar="SECONDS", help="between the two scrapes for rates (0: totals)"
    )
    st.add_argument("--json", action="store_true", help="machine-readable")
    st.set_defaults(func=cmd_status)

    ks = sub.add_parser("killswitch", help="switch the model off (or back on), globally or per event type")
    ks.add_argument("action", choices=["on", "off", "status"])
    ks.add_argument("--event-type", default=None, help="one event type (default: global)")
    ks.add_argument("--mode", choices=["fallback", "review"], default="fallback")
    ks.add_argument("--reason", default=None, help="why (required for on and off)")
    ks.set_defaults(func=cmd_killswitch)

    ingest = sub.add_parser("ingest", help="the HTTP ingestion gateway: events, Jira webhooks, document uploads")
    ingest_sub = ingest.add_subparsers(dest="ingest_command", required=True)
    ingest_serve = ingest_sub.add_parser("serve", help="serve the gateway (default port 8080) until SIGTERM")
    ingest_serve.add_argument("--host", default=None, help="default: settings.ingest.host")
    ingest_serve.add_argument("--port", type=int, default=None, help="default: settings.ingest.port (8080)")
    ingest_serve.set_defaults(func=cmd_ingest_serve)
    ingest_hash = ingest_sub.add_parser("hash-token", help="make an API token (or hash a given one) for the settings")
    ingest_hash.add_argument(
        "--stdin", action="store_true", help="hash the token read from stdin (kept out of shell history)"
    )
    ingest_hash.set_defaults(func=cmd_ingest_hash_token)
    from processor.quarantine.commands import add_parser as add_quarantine_parser
    from processor.settings_reference import add_parser as add_config_parser

    add_quarantine_parser(sub)  # quarantine list | show | replay
    add_config_parser(sub)  # config reference | show
    from processor.project_init import add_parser as add_init_parser

    add_init_parser(sub)  # init DIR --event-type NAME
    review = sub.add_parser("review", help="human review of escalated events (web app and terminal)")
    review_sub = review.add_subparsers(dest="review_command", required=True)
    review_serve = review_sub.add_parser("serve", help="the review web app (default port 8081)")
    review_serve.add_argument("--host", default=None, help="default: settings.review.host")
    review_serve.add_argument("--port", type=int, default=None, help="default: settings.review.port (8081)")
    review_serve.set_defaults(func=cmd_review_serve)
    review_next = review_sub.add_parser("next", help="decide review items from the terminal, one at a time")
    review_next.add_argument("--reviewer", required=True, help="a reviewer of settings.review.reviewers")
    review_next.add_argument("--password-stdin", action="store_true", help="read the password from stdin's first line")
    review_next.add_argument("--once", action="store_true", help="stop after one item")
    review_next.add_argument("--no-sync", action="store_true", help="do not read the review topic first")
    review_next.set_defaults(func=cmd_review_next)
    review_hash = review_sub.add_parser("hash-password", help="print a password hash for settings.review.reviewers")
    review_hash.add_argument("--stdin", action="store_true", help="read the password from stdin's first line")
    review_hash.set_defaults(func=cmd_review_hash_password)

    demo = sub.add_parser("demo", help="the whole loop on the local stack, with a summary")
    demo.add_argument("--count", type=int, default=20_000)
    demo.add_argument("--seed", type=int, default=None, help="default: a new seed each run")
    demo.set_defaults(func=cmd_demo)
    return parser


#: Long-running services whose logs go to a collector: JSON lines by default.
_SERVICES = {("run", None), ("ingest", "serve"), ("review", "serve")}


def _configure_logging(args: argparse.Namespace) -> None:
    from processor.logs import configure_logging

    try:
        settings: Settings | None = _settings(args)
    except ConfigError:
        settings = None  # the command reports the error itself
    level = args.log_level or (settings.log_level if settings is not None else "INFO")
    fmt = args.log_format or (settings.log_format if settings is not None else "auto")
    if fmt == "auto":
        sub = getattr(args, "ingest_command", None) or getattr(args, "review_command", None)
        fmt = "json" if (args.command, sub) in _SERVICES else "text"
    try:
        configure_logging(level, fmt)
    except ValueError:  # an unknown level name
        configure_logging("INFO", fmt)
        logging.getLogger("processor").warning("unknown log level %r: using INFO", level)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _configure_logging(args)
    try:
        code: int = args.func(args)
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    return code
