"""The review web app: server-rendered pages (Starlette + Jinja2 with autoescaping), no JavaScript.

Pages: sign in, the queue (priority, then age), one item (event, score, why it was escalated,
features, rules), and the decision form. Every form carries a CSRF token; the session cookie is
signed, HttpOnly and SameSite=Strict, and signing out revokes its session id (kept in Redis).
Also ``/metrics``, ``/healthz`` and ``/readyz``.
"""

from __future__ import annotations

import logging
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from processor.config import Settings
from processor.review.decisions import DecisionService, Outcome
from processor.review.ingest import Ingest
from processor.review.metrics import ReviewMetrics
from processor.review.monitor import QueueMonitor
from processor.review.render import STATIC_DIR, environment
from processor.review.security import (
    CSRF_FIELD,
    Authenticator,
    LoginThrottle,
    SecurityHeaders,
    csrf_token,
    csrf_valid,
    same_origin,
)
from processor.review.store import ReviewStore

log = logging.getLogger("processor.review.web")

#: Largest form field accepted (a note is at most review.max_note_chars; the rest are short).
_MAX_FIELD_BYTES = 256 * 1024
_QUEUE_PAGE = 200

_STATUS_CODES = {
    "decided": 303,
    "already_decided": 303,
    "conflict": 409,
    "busy": 409,
    "not_found": 404,
    "invalid": 400,
    "failed": 503,
}


@dataclass
class ReviewContext:
    settings: Settings
    store: ReviewStore
    service: DecisionService
    metrics: ReviewMetrics
    monitor: QueueMonitor
    ingest: Ingest | None = None
    authenticator: Authenticator = field(init=False)
    throttle: LoginThrottle = field(init=False)

    def __post_init__(self) -> None:
        review = self.settings.review
        self.authenticator = Authenticator(review.reviewers)
        self.throttle = LoginThrottle(self.store, review.max_failed_logins, review.login_lockout_s)


def create_app(ctx: ReviewContext) -> Starlette:
    review = ctx.settings.review
    templates = Jinja2Templates(env=environment())

    def render(request: Request, name: str, status_code: int = 200, **context: Any) -> Response:
        session = request.session
        context.setdefault("reviewer", session.get("reviewer"))
        context["csrf"] = csrf_token(session)
        context["csrf_field"] = CSRF_FIELD
        context["flash"] = session.pop("flash", None)
        return templates.TemplateResponse(request, name, context, status_code=status_code)

    async def reviewer_of(request: Request) -> str | None:
        """The signed-in reviewer, or None. The cookie is signed, so it cannot be forged, but a copy
        would outlive sign-out: each session has an id, and signing out revokes it in Redis."""
        name, session_id = request.session.get("reviewer"), request.session.get("sid")
        if not (isinstance(name, str) and name in ctx.authenticator.reviewers and isinstance(session_id, str)):
            return None
        if await run_in_threadpool(ctx.store.session_revoked, session_id):
            request.session.clear()
            return None
        return name

    async def read_form(request: Request) -> dict[str, str] | Response:
        """The posted fields, or a refusal: wrong origin, bad CSRF token, oversized fields."""
        if not same_origin(request.headers, request.url.scheme, request.headers.get("host", "")):
            ctx.metrics.csrf_rejections.inc()
            return PlainTextResponse("cross-origin form post refused", status_code=403)
        try:
            form = await request.form(max_files=0, max_fields=20, max_part_size=_MAX_FIELD_BYTES)
        except Exception as exc:  # multipart/urlencoded parser limits: a clear 400, not a 500
            return PlainTextResponse(f"unreadable form: {exc}", status_code=400)
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
        if not csrf_valid(request.session, fields.get(CSRF_FIELD)):
            ctx.metrics.csrf_rejections.inc()
            return PlainTextResponse("missing or invalid CSRF token: reload the page and try again", status_code=403)
        return fields

    async def home(request: Request) -> Response:
        return RedirectResponse("/queue" if await reviewer_of(request) else "/login", status_code=303)

    async def login_page(request: Request) -> Response:
        if await reviewer_of(request):
            return RedirectResponse("/queue", status_code=303)
        return render(request, "login.html", error=None, no_reviewers=not ctx.authenticator.reviewers)

    async def login(request: Request) -> Response:
        fields = await read_form(request)
        if isinstance(fields, Response):
            return fields
        name, password = fields.get("reviewer", "").strip(), fields.get("password", "")
        if await run_in_threadpool(ctx.throttle.locked, name):
            ctx.metrics.login_failures.labels("locked_out").inc()
            return render(request, "login.html", 429, error="Too many failed sign-ins: wait a few minutes.")
        if not await run_in_threadpool(ctx.authenticator.check, name, password):
            await run_in_threadpool(ctx.throttle.failed, name)
            ctx.metrics.login_failures.labels("bad_credentials").inc()
            return render(request, "login.html", 401, error="Unknown reviewer or wrong password.")
        await run_in_threadpool(ctx.throttle.succeeded, name)
        request.session.clear()  # a fresh session (and CSRF token) after sign-in: no fixation
        request.session["reviewer"] = name
        request.session["sid"] = secrets.token_urlsafe(18)
        request.session[CSRF_FIELD] = secrets.token_urlsafe(32)
        log.info("reviewer %s signed in", name)
        return RedirectResponse("/queue", status_code=303)

    async def logout(request: Request) -> Response:
        fields = await read_form(request)
        if isinstance(fields, Response):
            return fields
        session_id = request.session.get("sid")
        if isinstance(session_id, str):
            await run_in_threadpool(ctx.store.revoke_session, session_id, review.session_max_age_s)
        request.session.clear()
        return RedirectResponse("/login", status_code=303)

    async def queue(request: Request) -> Response:
        reviewer = await reviewer_of(request)
        if reviewer is None:
            return RedirectResponse("/login", status_code=303)
        now_ms = int(time.time() * 1000)
        entries, stats, rejected, holders = await run_in_threadpool(_queue_view, ctx, now_ms)
        return render(
            request,
            "queue.html",
            entries=entries,
            stats=stats,
            rejected=rejected,
            holders=holders,
            now_ms=now_ms,
            sla_ms=review.sla_seconds * 1000,
            item_url=_item_url,
            shown=_QUEUE_PAGE,
        )

    async def item_page(request: Request) -> Response:
        reviewer = await reviewer_of(request)
        if reviewer is None:
            return RedirectResponse("/login", status_code=303)
        event_id = request.query_params.get("event_id", "")
        return await _render_item(request, event_id, None, 200)

    async def _render_item(request: Request, event_id: str, outcome: Outcome | None, status: int) -> Response:
        item, done, holder, enqueued_at = await run_in_threadpool(_item_view, ctx, event_id)
        if item is None:
            return render(request, "missing.html", 404, event_id=event_id)
        return render(
            request,
            "item.html",
            status,
            item=item,
            done=done,
            holder=holder,
            choices=ctx.service.choices.for_type(item.event_type),
            outcome=outcome,
            enqueued_at=enqueued_at,
            now_ms=int(time.time() * 1000),
            sla_ms=review.sla_seconds * 1000,
            display_chars=review.display_chars,
            max_note_chars=review.max_note_chars,
        )

    async def decide(request: Request) -> Response:
        reviewer = await reviewer_of(request)
        if reviewer is None:
            return RedirectResponse("/login", status_code=303)
        fields = await read_form(request)
        if isinstance(fields, Response):
            return fields
        event_id = fields.get("event_id", "")
        outcome = await run_in_threadpool(
            ctx.service.decide, event_id, reviewer, fields.get("decision", ""), fields.get("note")
        )
        if outcome.recorded:
            request.session["flash"] = outcome.message
            return RedirectResponse("/queue", status_code=303)
        return await _render_item(request, event_id, outcome, _STATUS_CODES[outcome.status])

    async def metrics(request: Request) -> Response:
        await run_in_threadpool(ctx.monitor.refresh)
        return Response(generate_latest(ctx.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    async def healthz(request: Request) -> Response:
        return PlainTextResponse("ok")

    async def readyz(request: Request) -> Response:
        problems = await run_in_threadpool(_readiness, ctx)
        return PlainTextResponse("; ".join(problems) or "ok", status_code=503 if problems else 200)

    secret = review.session_secret.get_secret_value() if review.session_secret is not None else None
    if secret is None:
        log.warning("review.session_secret is not set: sessions use a random key and end when this process does")
        secret = secrets.token_urlsafe(48)
    return Starlette(
        routes=[
            Route("/", home),
            Route("/login", login_page, methods=["GET"]),
            Route("/login", login, methods=["POST"]),
            Route("/logout", logout, methods=["POST"]),
            Route("/queue", queue),
            Route("/item", item_page),
            Route("/decide", decide, methods=["POST"]),
            Route("/metrics", metrics),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
        ],
        middleware=[
            Middleware(SecurityHeaders),
            Middleware(
                SessionMiddleware,
                secret_key=secret,
                session_cookie="review_session",
                max_age=review.session_max_age_s,
                same_site="strict",
                https_only=review.cookie_secure,
            ),
        ],
    )


def _item_url(event_id: str) -> str:
    return "/item?" + urlencode({"event_id": event_id})


def _queue_view(ctx: ReviewContext, now_ms: int) -> tuple[Any, Any, Any, dict[str, str]]:
    entries = ctx.store.queue(limit=_QUEUE_PAGE)
    stats = ctx.monitor.refresh(now_ms)
    holders = {}
    for entry in entries:
        holder = ctx.store.holder(entry.item.event_id)
        if holder is not None:
            holders[entry.item.event_id] = holder
    return entries, stats, ctx.store.rejected(), holders


def _item_view(ctx: ReviewContext, event_id: str) -> tuple[Any, Any, Any, Any]:
    item = ctx.store.get(event_id)
    if item is None:
        return None, None, None, None
    return item, ctx.store.done(event_id), ctx.store.holder(event_id), ctx.store.enqueued_at(event_id)


def _readiness(ctx: ReviewContext) -> list[str]:
    problems = []
    try:
        ctx.store.depth()
    except Exception as exc:
        problems.append(f"redis: {exc}")
    if ctx.ingest is not None:
        if not ctx.ingest.caught_up.is_set():
            problems.append("ingest: catching up with the review and feedback topics")
        if ctx.ingest.last_error:
            problems.append(f"ingest: {ctx.ingest.last_error}")
    return problems
