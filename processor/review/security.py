"""Sign-in, CSRF tokens, sign-in throttling and the security headers every response carries."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Mapping
from typing import Any

from pydantic import SecretStr
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from processor.review.passwords import hash_password, verify_password
from processor.review.store import ReviewStore

CSRF_FIELD = "csrf_token"

#: No script runs on these pages at all; forms post only to this app; nobody may frame it.
_HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
        b"frame-ancestors 'none'; base-uri 'none'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),  # no-referrer would make browsers post "Origin: null"
    (b"cache-control", b"no-store"),
]


class SecurityHeaders:
    """Pure ASGI middleware: adds the headers above to every HTTP response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], *_HEADERS]
            await send(message)

        await self.app(scope, receive, send_with_headers)


class Authenticator:
    """Reviewer name + password against the configured hashes; unknown names cost the same time."""

    def __init__(self, reviewers: Mapping[str, SecretStr]) -> None:
        self._hashes = {name: h.get_secret_value() for name, h in reviewers.items()}
        self._dummy = hash_password(secrets.token_hex(16))

    @property
    def reviewers(self) -> list[str]:
        return sorted(self._hashes)

    def check(self, name: str, password: str) -> bool:
        stored = self._hashes.get(name)
        ok = verify_password(password, stored if stored is not None else self._dummy)
        return ok and stored is not None


class LoginThrottle:
    """At most ``max_failures`` failed sign-ins per name in ``window_s``; then that name waits.

    The failures are counted in the review store (Redis), so a guesser gains nothing by spreading
    attempts over the replicas, and a name nobody uses again costs nothing after the window.
    """

    def __init__(self, store: ReviewStore, max_failures: int, window_s: int) -> None:
        self._store = store
        self._max = max_failures
        self._window = window_s

    def locked(self, name: str) -> bool:
        return self._store.login_failures(name, self._window) >= self._max

    def failed(self, name: str) -> None:
        self._store.record_login_failure(name, self._window)

    def succeeded(self, name: str) -> None:
        self._store.clear_login_failures(name)


def csrf_token(session: dict[str, Any]) -> str:
    """The session's CSRF token (synchronizer pattern), made on first use."""
    token = session.get(CSRF_FIELD)
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        session[CSRF_FIELD] = token
    return token


def csrf_valid(session: dict[str, Any], submitted: object) -> bool:
    expected = session.get(CSRF_FIELD)
    return isinstance(expected, str) and isinstance(submitted, str) and hmac.compare_digest(expected, submitted)


def same_origin(headers: Mapping[str, str], scheme: str, host: str) -> bool:
    """A browser's Origin (when sent) must be this app: defence in depth beside the token."""
    origin = headers.get("origin")
    if origin is None or origin == "null":
        return origin is None
    return origin == f"{scheme}://{host}"
