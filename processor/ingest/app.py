"""The gateway's HTTP application (Starlette) and its server (uvicorn).

Routes: ``POST /v1/events`` (one event or a JSON array of them), ``POST /v1/webhooks/jira``,
``POST /v1/documents`` (multipart upload), and ``GET /healthz``, ``/readyz``, ``/metrics``.
Every error answer is JSON ``{"error": {"status", "code", "message", "field"?}}`` and is counted
in ``ingest_rejections_total{route,reason}``; batch answers list per-item results.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import uvicorn
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from processor import http_server
from processor.config import Settings, load_pipelines
from processor.http_limits import uvicorn_limits
from processor.ingest import documents, payloads, sandbox, work
from processor.ingest.auth import SIGNATURE_HEADER, TokenVerifier, signature_problem
from processor.ingest.envelope import MAX_ID_CHARS, CheckedEvent, check_event
from processor.ingest.metrics import IngestMetrics, route_label, webhook_event_label
from processor.ingest.producer import Backpressure, Delivery, DeliveryTimeout, EventProducer
from processor.ingest.rejections import Rejection
from processor.ingest.scopes import Scopes, UploadIds
from processor.ingest.storage import DocumentStore, TooLarge, UploadQuota
from processor.monitoring.http import Health

log = logging.getLogger("processor.ingest")

EVENTS = "/v1/events"
JIRA = "/v1/webhooks/jira"
DOCUMENTS = "/v1/documents"
DOCUMENT_EVENT_TYPE = "document_uploaded"
SOURCE = "gateway"
#: Multipart framing and form fields around the file itself.
_MULTIPART_OVERHEAD = 64 * 1024
_MAX_FILE_NAME = 255
#: Kafka errors that mean "this message can never fit", not "try again later".
_PERMANENT_KAFKA_ERRORS = {"msg_size_too_large": 413, "invalid_msg_size": 413}


@dataclass(frozen=True)
class Gateway:
    settings: Settings
    known_types: frozenset[str]
    #: The known types whose validation policy is tolerant (the envelope check reads them as the decoder does).
    tolerant_types: frozenset[str]
    tokens: TokenVerifier
    scopes: Scopes
    upload_ids: UploadIds
    producer: EventProducer
    store: DocumentStore
    quota: UploadQuota
    workers: asyncio.Semaphore
    metrics: IngestMetrics
    health: Health

    def reject(self, route: str, rejection: Rejection) -> None:
        self.metrics.rejections.labels(route, rejection.code).inc()


def create_app(settings: Settings, registry: CollectorRegistry | None = None) -> ASGIApp:
    """The application; the producer starts and stops with it (ASGI lifespan)."""
    ingest = settings.ingest
    metrics = IngestMetrics.create(registry)
    health = Health(stall_after_s=60.0)
    pipelines = load_pipelines(settings.pipelines_file)
    known_types = frozenset(pipelines.event_types)
    tolerant_types = frozenset(
        name for name, config in pipelines.event_types.items() if config.validation == "tolerant"
    )
    upload_secret = ingest.upload_id_secret
    gateway = Gateway(
        settings=settings,
        known_types=known_types,
        tolerant_types=tolerant_types,
        tokens=TokenVerifier(ingest.api_tokens),
        scopes=Scopes(ingest.api_tokens, ingest.client_scopes, known_types),
        upload_ids=UploadIds(upload_secret.get_secret_value().encode() if upload_secret is not None else None),
        producer=EventProducer(settings.kafka, ingest, settings.topics.raw, metrics, health),
        store=DocumentStore(ingest.upload_dir),
        quota=UploadQuota(ingest.upload_quota_bytes, ingest.upload_quota_window_s),
        workers=asyncio.Semaphore(ingest.max_parallel_workers),
        metrics=metrics,
        health=health,
    )
    if not gateway.tokens.configured:
        log.warning("no API tokens configured (PROCESSOR_INGEST__API_TOKENS): /v1/events and /v1/documents answer 401")
    if ingest.jira_webhook_secret is None:
        log.warning("no Jira webhook secret configured (PROCESSOR_INGEST__JIRA_WEBHOOK_SECRET): webhooks answer 401")

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await run_in_threadpool(sandbox.warm_up)
        gateway.producer.start()
        log.info("ingest gateway producing to %s on %s", settings.topics.raw, settings.kafka.bootstrap_servers)
        try:
            yield
        finally:
            await run_in_threadpool(gateway.producer.close)

    async def events(request: Request) -> Response:
        return await _post_events(gateway, request)

    async def webhook(request: Request) -> Response:
        return await _post_jira(gateway, request)

    async def upload(request: Request) -> Response:
        return await _post_document(gateway, request)

    async def healthz(request: Request) -> Response:
        ok, reason = health.live()
        return PlainTextResponse(reason + "\n", status_code=200 if ok else 503)

    async def readyz(request: Request) -> Response:
        ok, reason = health.ready()
        return PlainTextResponse(reason + "\n", status_code=200 if ok else 503)

    async def metrics_endpoint(request: Request) -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    app = Starlette(
        routes=[
            Route(EVENTS, events, methods=["POST"]),
            Route(JIRA, webhook, methods=["POST"]),
            Route(DOCUMENTS, upload, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            Route("/metrics", metrics_endpoint, methods=["GET"]),
        ],
        lifespan=lifespan,
        exception_handlers=_error_handlers(gateway),
    )
    # "/v1/events/" would redirect to an absolute URL built from the Host header: a 404 instead
    app.router.redirect_slashes = False
    return _Observed(app, gateway)


def serve(settings: Settings) -> None:
    """Run the gateway until SIGTERM/SIGINT (uvicorn drains open requests, then the producer flushes)."""
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host=settings.ingest.host,
        port=settings.ingest.port,
        log_level=settings.log_level.lower(),
        log_config=None,  # uvicorn's lines go through the processor's formatter (processor/logs.py)
        access_log=False,  # ingest_requests_total says the same without a line per request
        timeout_graceful_shutdown=30,
        server_header=False,
        **uvicorn_limits(
            header_timeout_s=settings.ingest.header_timeout_s,
            keep_alive_timeout_s=settings.ingest.keep_alive_timeout_s,
            max_connections=settings.ingest.max_connections,
            max_header_bytes=settings.ingest.max_header_bytes,
        ),
    )
    http_server.serve(config)


# -- /v1/events ----------------------------------------------------------------------------------


async def _post_events(gateway: Gateway, request: Request) -> Response:
    ingest = gateway.settings.ingest
    client = _authenticate(gateway, request)
    payloads.require_json(request)
    body = await payloads.read_body(request, ingest.max_batch_bytes, ingest.body_timeout_s)
    limits = work.EventLimits(ingest.max_batch_items, ingest.max_event_bytes, ingest.max_json_depth)
    batch: work.CheckedBatch = await _bounded(
        gateway,
        len(body),
        _parse_limits(gateway),
        "body_too_complex",
        work.check_events,
        body,
        limits,
        gateway.known_types,
        gateway.scopes.of(client),
        gateway.scopes.clients,
        gateway.tolerant_types,
    )
    single, checked, rejected = batch.single, batch.checked, batch.rejected
    for item in rejected:
        gateway.metrics.rejections.labels(EVENTS, item["code"]).inc()
    for event_id, other in batch.foreign:
        # namespaced under the sender anyway, so it cannot take the other's dedupe identity
        gateway.metrics.id_collisions.labels(client).inc()
        log.warning("client %s sent event_id %r in the namespace of client %s", client, event_id[:200], other)
    deliveries = await _send(gateway, [c for _, c in checked], client, EVENTS)
    accepted = []
    for (index, event), delivery in zip(checked, deliveries, strict=True):
        if delivery.error is None:
            gateway.metrics.events_accepted.labels(event.event_type).inc()
            accepted.append(
                {"index": index, "event_id": event.event_id, "partition": delivery.partition, "offset": delivery.offset}
            )
        else:
            refused = _kafka_rejection(delivery)
            gateway.reject(EVENTS, refused)
            rejected.append({"index": index, "event_id": event.event_id, **refused.as_json()})
    rejected.sort(key=lambda r: int(r["index"]))
    body_out: dict[str, Any] = {"accepted": accepted, "rejected": rejected}
    if accepted:
        return JSONResponse(body_out, status_code=202)
    statuses = {int(r["status"]) for r in rejected}
    status = statuses.pop() if len(statuses) == 1 else 422
    if single:
        first = rejected[0]
        body_out["error"] = {k: first[k] for k in ("status", "code", "message", "field") if k in first}
    else:
        body_out["error"] = {"status": status, "code": "no_event_accepted", "message": "every event was rejected"}
    headers = _retry_after(gateway) if status == 503 else None
    return JSONResponse(body_out, status_code=status, headers=headers)


# -- /v1/webhooks/jira ---------------------------------------------------------------------------


async def _post_jira(gateway: Gateway, request: Request) -> Response:
    ingest = gateway.settings.ingest
    payloads.require_json(request)
    body = await payloads.read_body(request, ingest.max_webhook_bytes, ingest.body_timeout_s)
    secret = ingest.jira_webhook_secret
    if secret is None:
        raise Rejection(401, "webhook_secret_not_configured", "this gateway has no Jira webhook secret configured")
    problem = signature_problem(secret.get_secret_value().encode(), body, request.headers.get(SIGNATURE_HEADER))
    if problem is not None:
        raise Rejection(401, problem, f"{SIGNATURE_HEADER} must be sha256=<HMAC-SHA256 of the body with the secret>")
    mapped: work.WebhookResult = await _bounded(
        gateway,
        len(body),
        _parse_limits(gateway),
        "body_too_complex",
        work.map_webhook,
        body,
        ingest.max_json_depth,
        ingest.jira_priority_aliases,
        ingest.max_event_bytes,
    )
    if mapped.ignored is not None or mapped.event is None:
        name = mapped.ignored or ""
        gateway.metrics.webhooks_ignored.labels(webhook_event_label(name)).inc()
        return JSONResponse({"status": "ignored", "webhook_event": name[:100]}, status_code=200)
    event = mapped.event
    if mapped.sent_at_ms is not None:
        skew_s = abs(time.time() * 1000 - mapped.sent_at_ms) / 1000
        if skew_s > ingest.webhook_max_age_s:
            raise Rejection(
                422,
                "webhook_stale",
                f"the webhook's timestamp is {skew_s:,.0f} s from now, over the {ingest.webhook_max_age_s:,} s window",
                field="timestamp",
            )
    (delivery,) = await _send(gateway, [event], "jira", JIRA)
    if delivery.error is not None:
        raise _kafka_rejection(delivery)
    gateway.metrics.events_accepted.labels(event.event_type).inc()
    return JSONResponse(
        {"status": "accepted", "event_id": event.event_id, "entity_id": event.entity_id, "offset": delivery.offset},
        status_code=202,
    )


# -- /v1/documents -------------------------------------------------------------------------------


async def _post_document(gateway: Gateway, request: Request) -> Response:
    ingest = gateway.settings.ingest
    client = _authenticate(gateway, request)
    payloads.require_multipart(request)
    limit = ingest.max_upload_bytes + _MULTIPART_OVERHEAD
    payloads.check_declared_length(request, limit)
    if gateway.quota.enabled and gateway.quota.used(client) >= ingest.upload_quota_bytes:
        raise _over_quota(gateway)
    limited = Request(request.scope, payloads.limited_receive(request.receive, limit))
    try:
        # Starlette spools each file part to a temporary file past 1 MB: the body is never in memory
        async with payloads.within(ingest.body_timeout_s):
            form = await limited.form(max_files=1, max_fields=16, max_part_size=16 * 1024)
    except HTTPException as exc:  # Starlette's answer to a malformed multipart body
        raise Rejection(400, "malformed_multipart", str(exc.detail)[:200]) from None
    try:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise Rejection(400, "file_missing", "the multipart body needs one file part named 'file'", field="file")
        uploader_id = _form_text(form.get("uploader_id"), "uploader_id", required=True)
        file_name = upload.filename or "upload"
        if len(file_name) > _MAX_FILE_NAME:
            raise Rejection(422, "file_name_too_long", f"file name is over {_MAX_FILE_NAME} characters", field="file")
        declared_mime = (
            _form_text(form.get("mime_type"), "mime_type") or upload.content_type or "application/octet-stream"
        )
        declared_size = _form_int(form.get("size_bytes"), "size_bytes")
        declared_sha = _form_text(form.get("sha256"), "sha256")
        if declared_sha is not None and not _is_sha256(declared_sha):
            raise Rejection(422, "wrong_format", "sha256 must be 64 hex digits", field="sha256")
        await upload.seek(0)
        try:
            incoming = await run_in_threadpool(gateway.store.receive, upload.file, ingest.max_upload_bytes)
        except TooLarge:
            raise payloads.too_large(ingest.max_upload_bytes, "the file") from None
    finally:
        await form.close()
    try:
        if not gateway.quota.charge(client, incoming.size):
            raise _over_quota(gateway)
        limits = sandbox.Limits(ingest.document_cpu_s, ingest.document_memory_bytes, ingest.document_timeout_s)
        found: documents.Inspection = await _bounded(
            gateway,
            None,
            limits,
            "document_too_complex",
            work.inspect_file,
            incoming.path,
            declared_mime,
            declared_size,
            declared_sha,
        )
        # truncated bytes are not the document anyone meant; damaged but complete ones are kept for forensics
        storage_uri = None if found.status == "truncated" else await run_in_threadpool(gateway.store.keep, incoming)
    finally:
        incoming.path.unlink(missing_ok=True)  # gone already when kept
    event_id = gateway.upload_ids.event_id(client, request.headers.get("idempotency-key"))
    document_id = f"doc_{found.sha256[:24]}"
    record = {
        "event_id": event_id,
        "event_type": DOCUMENT_EVENT_TYPE,
        "schema_version": 1,
        "occurred_at": int(time.time() * 1000),
        "entity_id": uploader_id,
        "sequence": None,
        "source": SOURCE,
        "document_id": document_id,
        "uploader_id": uploader_id,
        "file_name": file_name,
        "mime_type": declared_mime[:255],
        "detected_mime_type": found.detected_mime_type,
        "size_bytes": found.size_bytes,
        "page_count": found.page_count,
        "sha256": found.sha256,
        "upload_status": found.status,
        "status_reason": found.reason,
        "storage_uri": storage_uri,
    }
    event = check_event(
        record,
        known_types=gateway.known_types,
        tolerant_types=gateway.tolerant_types,
        max_bytes=ingest.max_event_bytes,
        max_depth=ingest.max_json_depth,
    )
    (delivery,) = await _send(gateway, [event], client, DOCUMENTS)
    if delivery.error is not None:
        raise _kafka_rejection(delivery)
    gateway.metrics.events_accepted.labels(DOCUMENT_EVENT_TYPE).inc()
    gateway.metrics.documents.labels(found.status).inc()
    result: dict[str, Any] = {
        "event_id": event_id,
        "document_id": document_id,
        "upload_status": found.status,
        "status_reason": found.reason,
        "detected_mime_type": found.detected_mime_type,
        "page_count": found.page_count,
        "size_bytes": found.size_bytes,
        "sha256": found.sha256,
        # stored or not; where is the server's business (its path tells a client about the host)
        "stored": storage_uri is not None,
        "warnings": list(found.warnings),
        "recorded": True,
    }
    if found.status == "ok":
        return JSONResponse(result, status_code=202)
    # recorded (the processor will route it for review), but the client must know it failed
    code = f"document_{found.status}"
    gateway.reject(DOCUMENTS, Rejection(422, code, found.reason or found.status))
    result["error"] = {"status": 422, "code": code, "message": found.reason}
    return JSONResponse(result, status_code=422)


def _form_text(value: Any, name: str, *, required: bool = False) -> str | None:
    if value is None or value == "":
        if required:
            raise Rejection(422, "missing_field", f"form field {name} is required", field=name)
        return None
    if not isinstance(value, str):
        raise Rejection(422, "wrong_type", f"form field {name} must be text, not a file", field=name)
    if len(value) > MAX_ID_CHARS:
        raise Rejection(422, "field_too_long", f"form field {name} is over {MAX_ID_CHARS} characters", field=name)
    return value.strip()


def _form_int(value: Any, name: str) -> int | None:
    text = _form_text(value, name)
    if text is None:
        return None
    if not text.isdigit() or len(text) > 15:
        raise Rejection(422, "wrong_type", f"form field {name} must be a non-negative integer", field=name)
    return int(text)


def _is_sha256(text: str) -> bool:
    return len(text) == 64 and all(c in "0123456789abcdefABCDEF" for c in text)


# -- shared --------------------------------------------------------------------------------------


def _parse_limits(gateway: Gateway) -> sandbox.Limits:
    ingest = gateway.settings.ingest
    return sandbox.Limits(ingest.parse_cpu_s, ingest.parse_memory_bytes, ingest.parse_timeout_s)


async def _bounded(
    gateway: Gateway, size: int | None, limits: sandbox.Limits, code: str, fn: Callable[..., Any], *args: Any
) -> Any:
    """``fn(*args)``: inline for a body of at most ``inline_parse_bytes`` (``size`` given), else in a
    limited child process, at most ``max_parallel_workers`` at once; past a limit, 422 ``code``."""
    if size is not None and size <= gateway.settings.ingest.inline_parse_bytes:
        return fn(*args)
    async with gateway.workers:
        try:
            return await sandbox.run_limited(fn, *args, limits=limits)
        except sandbox.TooComplex as exc:
            log.warning("%s stopped: %s", fn.__name__, exc.what)
            raise Rejection(
                422, code, f"the input could not be processed within the gateway's limits: {exc.what}"
            ) from None


def _over_quota(gateway: Gateway) -> Rejection:
    ingest = gateway.settings.ingest
    return Rejection(
        429,
        "upload_quota_exceeded",
        f"this client uploaded its {ingest.upload_quota_bytes:,} bytes for the last "
        f"{ingest.upload_quota_window_s:g} s: try again later",
    )


def _authenticate(gateway: Gateway, request: Request) -> str:
    client = gateway.tokens.client(request.headers.get("authorization"))
    if client is None:
        if not gateway.tokens.configured:
            raise Rejection(401, "no_tokens_configured", "this gateway has no API tokens configured")
        raise Rejection(401, "unauthorized", "send Authorization: Bearer <token> with a valid API token")
    return client


async def _send(gateway: Gateway, events: Sequence[CheckedEvent], client: str, route: str) -> list[Delivery]:
    headers = [
        ("content-type", b"application/json"),
        ("ingest-route", route.encode()),
        ("ingest-client", client.encode()),
    ]
    try:
        return await gateway.producer.send(events, headers)
    except Backpressure as exc:
        raise Rejection(503, "backpressure", f"Kafka is slow, try again later: {exc}") from None
    except DeliveryTimeout as exc:
        raise Rejection(503, "delivery_timeout", str(exc)) from None


def _kafka_rejection(delivery: Delivery) -> Rejection:
    error = delivery.error or "kafka_error"
    return Rejection(
        _PERMANENT_KAFKA_ERRORS.get(error, 503), f"kafka_{error}", f"Kafka did not take the event: {error}"
    )


def _retry_after(gateway: Gateway) -> dict[str, str]:
    return {"Retry-After": str(gateway.settings.ingest.retry_after_s)}


def _error_handlers(gateway: Gateway) -> dict[Any, Any]:
    async def rejected(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, Rejection)
        gateway.reject(route_label(request.url.path), exc)
        headers = _retry_after(gateway) if exc.status == 503 else {}
        if exc.status == 401:
            headers["WWW-Authenticate"] = 'Bearer realm="ingest"'
        return JSONResponse({"error": exc.as_json()}, status_code=exc.status, headers=headers)

    async def disconnected(request: Request, exc: Exception) -> Response:
        gateway.reject(route_label(request.url.path), Rejection(499, "client_disconnected", "gone"))
        return Response(status_code=499)  # nobody reads it; the metric records what happened

    async def failed(request: Request, exc: Exception) -> Response:
        log.error("unexpected error on %s", request.url.path, exc_info=exc)
        gateway.reject(route_label(request.url.path), Rejection(500, "internal_error", "unexpected"))
        body = {"error": {"status": 500, "code": "internal_error", "message": "unexpected error, logged"}}
        return JSONResponse(body, status_code=500)

    return {Rejection: rejected, ClientDisconnect: disconnected, Exception: failed}


class _Observed:
    """Outermost layer: times and counts every request by route and status."""

    def __init__(self, app: ASGIApp, gateway: Gateway) -> None:
        self.app = app
        self.gateway = gateway

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        route = route_label(scope.get("path", ""))
        started = time.monotonic()
        status = 500

        async def observed_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, observed_send)
        finally:
            self.gateway.metrics.requests.labels(route, str(status)).inc()
            self.gateway.metrics.request_seconds.labels(route).observe(time.monotonic() - started)
