"""Sign-in, CSRF tokens, sign-in throttling, session-secret checks and the security headers every
response carries."""

from __future__ import annotations

import hmac
import logging
import math
import re
import secrets
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import SecretStr
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from processor.review.passwords import hash_password, is_password_hash, verify_password
from processor.review.store import ReviewStore

log = logging.getLogger("processor.review.security")

CSRF_FIELD = "csrf_token"

#: A session secret shorter than this, or with less estimated entropy, is refused at start-up:
#: whoever guesses it signs their own cookie and is any reviewer they like.
MIN_SECRET_CHARS = 32
_MIN_SECRET_BITS = 96.0
#: Placeholders of the example files (deploy/k8s/*.example.yaml, docs): a deployment that copied
#: one unchanged has a secret everybody knows.
_PLACEHOLDERS = ("change-me", "changeme", "change_me", "replace-me", "replaceme", "example", "placeholder")

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


def session_secret_problem(secret: str) -> str | None:
    """Why ``secret`` must not sign sessions (too short, too uniform, an example value), or None."""
    lowered = secret.lower()
    for placeholder in _PLACEHOLDERS:
        if placeholder in lowered:
            return f"it contains the example-file placeholder {placeholder!r}"
    if len(secret) < MIN_SECRET_CHARS:
        return f"it is {len(secret)} characters, fewer than {MIN_SECRET_CHARS}"
    bits = _entropy_bits(secret)
    if bits < _MIN_SECRET_BITS or len(set(secret)) < 10:
        return f"it is too uniform (about {bits:.0f} bits, at least {_MIN_SECRET_BITS:.0f} needed)"
    if any(c.isspace() for c in secret.strip()):
        return "it holds whitespace: a pasted text (a certificate, a sentence), not a generated key"
    if re.search(r"(.)\1{7}", secret):
        return "it holds a run of 8 or more identical characters"
    for period in range(1, len(secret) // 2 + 1):
        if secret == (secret[:period] * (len(secret) // period + 1))[: len(secret)]:
            return f"it repeats a {period}-character pattern"
    return None


def _entropy_bits(text: str) -> float:
    """Shannon entropy of the characters, times the length: a rough upper bound, enough to catch
    repeated and dictionary-like values (``openssl rand -hex 32`` gives about 230)."""
    counts = Counter(text)
    per_char = -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values())
    return max(0.0, per_char * len(text))


class Authenticator:
    """Reviewer name + password against the configured hashes; unknown names cost the same time.

    A reviewer whose stored hash is malformed can never sign in, so any session naming them was
    not made by this app: they are left out of ``reviewers`` and such a session is refused.
    """

    def __init__(self, reviewers: Mapping[str, SecretStr]) -> None:
        self._hashes = {}
        self.malformed: list[str] = []
        for name, stored in reviewers.items():
            value = stored.get_secret_value()
            if is_password_hash(value):
                self._hashes[name] = value
            else:
                self.malformed.append(name)
        if self.malformed:
            log.error(
                "reviewers with a malformed password hash cannot sign in (make one with "
                "`processor review hash-password`): %s",
                ", ".join(sorted(self.malformed)),
            )
        self._dummy = hash_password(secrets.token_hex(16))

    @property
    def reviewers(self) -> list[str]:
        return sorted(self._hashes)

    def check(self, name: str, password: str) -> bool:
        stored = self._hashes.get(name)
        ok = verify_password(password, stored if stored is not None else self._dummy)
        return ok and stored is not None


@dataclass(frozen=True)
class Attempt:
    """One sign-in attempt as counted: ``allowed`` means the password may be checked."""

    allowed: bool
    #: What is over its limit when not allowed: ``name_address``, ``address`` or ``name``.
    limit: str | None = None


class LoginThrottle:
    """Every sign-in attempt is counted in Redis (one script, so parallel guesses cannot slip
    between a check and a count) before the password is checked, three ways within ``window_s``:

    * per name and client address (``max_per_name_address``): a guesser of one name from one
      address is stopped after a few tries, and only there, so typing a reviewer's name from
      elsewhere does not lock them out;
    * per client address (``max_per_address``): one address guessing many names;
    * per name from all addresses (``max_per_name``): a guesser spread over many addresses.

    The counts live in the review store, so a guesser gains nothing by spreading attempts over the
    replicas, and expire with the window. A correct password clears the name's counts (not the
    address's: signing in to one's own account must not buy more guesses at others).
    """

    def __init__(
        self,
        store: ReviewStore,
        max_per_name_address: int,
        window_s: int,
        *,
        max_per_address: int | None = None,
        max_per_name: int | None = None,
    ) -> None:
        self._store = store
        self._limits = (
            max_per_name_address,
            max_per_address if max_per_address is not None else max_per_name_address * 6,
            max_per_name if max_per_name is not None else max_per_name_address * 20,
        )
        self._window = window_s

    def attempt(self, name: str, address: str) -> Attempt:
        counts = self._store.count_login_attempt(name, address, self._window)
        for kind, count, limit in zip(("name_address", "address", "name"), counts, self._limits, strict=True):
            if count > limit:
                return Attempt(False, kind)
        return Attempt(True)

    def succeeded(self, name: str, address: str) -> None:
        self._store.clear_login_attempts(name, address)


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
