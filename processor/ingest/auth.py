"""Who may call: API tokens (stored only as hashes) and Jira's HMAC webhook signature.

Tokens are long random strings issued by ``processor ingest hash-token``, so a plain SHA-256 is
the right hash: there is no password to brute-force, and a slow KDF would only slow every
request. Comparisons are constant-time, and every configured hash is compared so the time
taken does not tell which client a guess came close to.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping

#: Jira Cloud (admin webhooks with a secret) sends ``X-Hub-Signature: sha256=<hex>`` (WebSub).
SIGNATURE_HEADER = "x-hub-signature"
_PREFIX = "sha256:"


def hash_token(token: str) -> str:
    return _PREFIX + hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    return "ingk_" + secrets.token_urlsafe(32)


class TokenVerifier:
    def __init__(self, hashed: Mapping[str, str]) -> None:
        self._digests = [(name, bytes.fromhex(digest.removeprefix(_PREFIX))) for name, digest in hashed.items()]

    @property
    def configured(self) -> bool:
        return bool(self._digests)

    def client(self, authorization: str | None) -> str | None:
        """The client name a ``Bearer`` token belongs to, or None."""
        if not authorization:
            return None
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        presented = hashlib.sha256(token.strip().encode("utf-8", errors="replace")).digest()
        found = None
        for name, digest in self._digests:
            if hmac.compare_digest(presented, digest) and found is None:
                found = name
        return found


def signature_problem(secret: bytes, body: bytes, header: str | None) -> str | None:
    """Why a webhook signature does not verify (a reason code), or None when it does."""
    if not header:
        return "signature_missing"
    method, sep, signature = header.strip().partition("=")
    if not sep or not signature:
        return "signature_malformed"
    if method.lower() != "sha256":
        return "signature_unsupported_method"
    expected = hmac.new(secret, body, hashlib.sha256).hexdigest().encode("ascii")
    # headers arrive as latin-1 text; bytes compare safely whatever the client put there
    if not hmac.compare_digest(expected, signature.strip().lower().encode("latin-1", errors="replace")):
        return "signature_mismatch"
    return None


def sign(secret: bytes, body: bytes) -> str:
    """The header value Jira would send for this body (for tests, the demo and clients)."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
