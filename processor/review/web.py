"""The review web app: server-rendered pages (Starlette + Jinja2 with autoescaping), no JavaScript.

Pages: sign in, the queue (priority, then age), one item (event, score, why it was escalated,
features, rules), and the decision form. Every form carries a CSRF token (the sign-in form's is
used once); the session cookie is signed with a checked secret, HttpOnly and SameSite=Strict, a
session ends at its max age after sign-in however often it is re-signed, and signing out revokes
its id (kept in Redis for longer than a session can live). Also ``/metrics``, ``/healthz`` and
``/readyz``.
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
from processor.errors import ConfigError
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
    session_secret_problem,
)
from processor.review.store import ReviewStore

log = logging.getLogger("processor.review.web")

#: Largest form field accepted (a note is at most review.max_note_chars; the rest are short).
_MAX_FIELD_BYTES = 256 * 1024
_QUEUE_PAGE = 200
#: A revocation outlives the session it revokes by this much (clock skew between replicas).
_REVOCATION_MARGIN_S = 300

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
        self.throttle = LoginThrottle(
            self.store,
            review.max_failed_logins,
            review.login_lockout_s,
            max_per_address=review.max_logins_per_address,
            max_per_name=review.max_logins_per_name,
        )


def create_app(ctx: ReviewContext) -> Starlette:
    review = ctx.settings.review
    secret = _session_secret(ctx.settings)
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
        would outlive sign-out: each session has an id, and signing out revokes it in Redis. The
        cookie is re-signed whenever the session changes, so its own age says nothing: the sign-in
        time inside it ends the session at the max age."""
        name, session_id, signed_in = (request.session.get(k) for k in ("reviewer", "sid", "iat"))
        if not (isinstance(name, str) and name in ctx.authenticator.reviewers and isinstance(session_id, str)):
            return None
        if not isinstance(signed_in, int) or not 0 <= time.time() - signed_in <= review.session_max_age_s:
            _forget_reviewer(request.session)
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
        # an attempt replaces whatever identity the cookie held: a failed one (or a refused form)
        # must never send back a re-signed copy of a signed-out session
        _forget_reviewer(request.session)
        fields = await read_form(request)
        if isinstance(fields, Response):
            return fields
        # the form's token serves one attempt: the next one needs the fresh token of the next page
        used = fields[CSRF_FIELD]
        request.session[CSRF_FIELD] = secrets.token_urlsafe(32)
        if not await run_in_threadpool(ctx.store.consume_once, used, review.session_max_age_s):
            ctx.metrics.csrf_rejections.inc()
            return PlainTextResponse("this sign-in form was already used: reload the page", status_code=403)
        name, password = fields.get("reviewer", "").strip(), fields.get("password", "")
        address = request.client.host if request.client is not None else "unknown"
        attempt = await run_in_threadpool(ctx.throttle.attempt, name, address)
        if not attempt.allowed:
            ctx.metrics.login_failures.labels("locked_out").inc()
            log.warning("sign-in refused: too many attempts (%s limit) from %s", attempt.limit, address)
            return render(request, "login.html", 429, error="Too many sign-in attempts: wait a few minutes.")
        if not await run_in_threadpool(ctx.authenticator.check, name, password):
            ctx.metrics.login_failures.labels("bad_credentials").inc()
            return render(request, "login.html", 401, error="Unknown reviewer or wrong password.")
        await run_in_threadpool(ctx.throttle.succeeded, name, address)
        request.session.clear()  # a fresh session (and CSRF token) after sign-in: no fixation
        request.session["reviewer"] = name
        request.session["sid"] = secrets.token_urlsafe(18)
        request.session["iat"] = int(time.time())
        request.session[CSRF_FIELD] = secrets.token_urlsafe(32)
        log.info("reviewer %s signed in", name)
        return RedirectResponse("/queue", status_code=303)

    async def logout(request: Request) -> Response:
        fields = await read_form(request)
        if isinstance(fields, Response):
            return fields
        session_id = request.session.get("sid")
        if isinstance(session_id, str):
            await run_in_threadpool(
                ctx.store.revoke_session, session_id, review.session_max_age_s + _REVOCATION_MARGIN_S
            )
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

    app = Starlette(
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
    # "/queue/" would redirect to an absolute URL built from the Host header: a 404 instead
    app.router.redirect_slashes = False
    return app


def _session_secret(settings: Settings) -> str:
    """The configured session secret, refused when weak; a random one when none is configured."""
    configured = settings.review.session_secret
    if configured is None:
        log.warning("review.session_secret is not set: sessions use a random key and end when this process does")
        return secrets.token_urlsafe(48)
    problem = session_secret_problem(configured.get_secret_value())
    if problem is not None:
        raise ConfigError(
            "weak_session_secret",
            f"PROCESSOR_REVIEW__SESSION_SECRET is refused: {problem}. Make one with `openssl rand -hex 32`",
        )
    return configured.get_secret_value()


def _forget_reviewer(session: dict[str, Any]) -> None:
    for key in ("reviewer", "sid", "iat"):
        session.pop(key, None)


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
