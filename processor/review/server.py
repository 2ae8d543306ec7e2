"""Assemble the review app from settings and run it: ``processor review serve``."""

from __future__ import annotations

import logging
import threading

import uvicorn

from processor import http_server
from processor.config import PipelinesConfig, Settings
from processor.http_limits import uvicorn_limits
from processor.review.decisions import DecisionProducer, DecisionService
from processor.review.ingest import Ingest
from processor.review.metrics import ReviewMetrics
from processor.review.monitor import QueueMonitor
from processor.review.store import ReviewStore
from processor.review.web import ReviewContext, create_app
from processor.state.redis_client import connect

log = logging.getLogger("processor.review")


def build_context(settings: Settings, pipelines: PipelinesConfig, *, with_ingest: bool = True) -> ReviewContext:
    store = ReviewStore(connect(settings.redis), settings.redis.key_prefix)
    metrics = ReviewMetrics.create(
        event_types=pipelines.event_types, reviewer_names=settings.review.metrics_reviewer_names
    )
    service = DecisionService(settings, pipelines, store, DecisionProducer(settings), metrics)
    ingest = Ingest(settings, store, metrics, service.choices) if with_ingest else None
    return ReviewContext(settings, store, service, metrics, QueueMonitor(store, metrics, settings.review), ingest)


def serve(settings: Settings, pipelines: PipelinesConfig) -> int:
    ctx = build_context(settings, pipelines)
    if not settings.review.reviewers:
        log.warning("no reviewers configured (PROCESSOR_REVIEW__REVIEWERS): nobody can sign in")
    stop = threading.Event()
    threads = [threading.Thread(target=ctx.monitor.run, args=(stop,), name="review-monitor", daemon=True)]
    if ctx.ingest is not None:
        threads.append(threading.Thread(target=ctx.ingest.run, args=(stop,), name="review-ingest", daemon=True))
    for thread in threads:
        thread.start()
    try:
        config = uvicorn.Config(
            create_app(ctx),
            host=settings.review.host,
            port=settings.review.port,
            log_level=settings.log_level.lower(),
            log_config=None,  # uvicorn's lines go through the processor's formatter (processor/logs.py)
            server_header=False,
            timeout_graceful_shutdown=10,
            proxy_headers=True,
            forwarded_allow_ips=settings.review.forwarded_allow_ips,
            **uvicorn_limits(
                header_timeout_s=settings.review.header_timeout_s,
                keep_alive_timeout_s=settings.review.keep_alive_timeout_s,
                max_connections=settings.review.max_connections,
                max_header_bytes=settings.review.max_header_bytes,
            ),
        )
        http_server.serve(config)  # returns on SIGTERM, so the cleanup below runs
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=15)
        if ctx.ingest is not None:
            ctx.ingest.close()
        ctx.service.close()
    return 0
