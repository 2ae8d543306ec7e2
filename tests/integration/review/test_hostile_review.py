"""The review app against a hostile client, on the real `processor review serve` and Redis: forged and
revived sessions, parallel password guesses, reused sign-in forms, lock-out by name."""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import redis
from itsdangerous import TimestampSigner
from pydantic import SecretStr

from helpers.hostile import half_sent_requests, still_open
from helpers.review import PASSWORDS
from processor.config import Settings

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_COOKIE = "review_session"


def _token(client: httpx.Client, path: str = "/login", **headers: str) -> str:
    page = client.get(path, headers=headers)
    match = _CSRF.search(page.text)
    assert match is not None, page.text[:500]
    return match.group(1)


def _sign_in(client: httpx.Client, reviewer: str, password: str, **headers: str) -> httpx.Response:
    token = _token(client, **headers)
    return client.post(
        "/login", data={"reviewer": reviewer, "password": password, "csrf_token": token}, headers=headers
    )


def _payload(cookie: str) -> dict[str, Any]:
    """What a session cookie holds (the part before the signature, as Starlette writes it)."""
    data = cookie.split(".", 1)[0]
    return dict(json.loads(base64.b64decode(data + "=" * (-len(data) % 4))))


def _forge(secret: str, session: dict[str, Any]) -> str:
    """A cookie signed the way Starlette's SessionMiddleware signs one, by someone who has the key."""
    return TimestampSigner(secret).sign(base64.b64encode(json.dumps(session).encode())).decode()


def _secret(settings: Settings) -> str:
    assert settings.review.session_secret is not None
    return settings.review.session_secret.get_secret_value()


def test_forged_sessions_slash_redirects_and_half_sent_requests_are_refused(
    review_settings_factory: Callable[..., Settings],
    review_server: Callable[[Settings], str],
    reviewer_hashes: dict[str, str],
) -> None:
    reviewers = {n: SecretStr(h) for n, h in reviewer_hashes.items()}
    reviewers["mallory"] = SecretStr("scrypt$16384$8$1$change-me")  # as in the example Secret
    settings = review_settings_factory(review={"reviewers": reviewers, "header_timeout_s": 1.0})
    url = review_server(settings)
    cookie = _forge(_secret(settings), {"reviewer": "mallory", "sid": "forged", "iat": int(time.time())})
    with httpx.Client(base_url=url, cookies={_COOKIE: cookie}) as client:
        response = client.get("/queue")
        assert response.status_code == 303 and response.headers["location"] == "/login"
        # nobody can sign in as mallory either: the hash is not a hash
        assert _sign_in(client, "mallory", "change-me").status_code == 401
    with httpx.Client(base_url=url) as client:
        # a trailing slash is not redirected to an absolute URL made of the Host header
        slash = client.get("/queue/", headers={"Host": "evil.example"}, follow_redirects=False)
        assert slash.status_code == 404 and "location" not in slash.headers
    # half-sent requests are closed within the header timeout (one server start serves both checks)
    sockets = half_sent_requests(settings.review.host, settings.review.port, 50, b"GET /login HTTP/1.1\r\nHost: r\r\n")
    try:
        time.sleep(0.3)
        assert still_open(sockets) == 50
        time.sleep(2.0)
        assert still_open(sockets) == 0, "half-sent requests outlived the 1 s header timeout"
    finally:
        for sock in sockets:
            sock.close()


def test_a_signed_out_session_never_comes_back(
    review_settings_factory: Callable[..., Settings],
    review_server: Callable[[Settings], str],
    redis_client: redis.Redis,
) -> None:
    settings = review_settings_factory()
    url = review_server(settings)
    max_age = settings.review.session_max_age_s
    with httpx.Client(base_url=url) as client:
        assert _sign_in(client, "alice", PASSWORDS["alice"]).status_code == 303
        copied = client.cookies[_COOKIE]
        token = _token(client, "/queue")
        assert client.post("/logout", data={"csrf_token": token}).status_code == 303
    session = _payload(copied)
    revoked = f"{settings.redis.key_prefix}rv:revoked:{session['sid']}"
    assert redis_client.ttl(revoked) > max_age, "the revocation must outlive every cookie of the session"

    with httpx.Client(base_url=url, cookies={_COOKIE: copied}) as thief:
        assert thief.get("/queue").status_code == 303  # revoked
        # a failed sign-in with the copy must not send back a freshly signed copy of that session
        answer = thief.post("/login", data={"reviewer": "alice", "password": "wrong", "csrf_token": token})
        assert answer.status_code in (401, 403)
        resigned = answer.cookies.get(_COOKIE)
        assert resigned is None or "sid" not in _payload(resigned)

    # once the revocation is gone (its TTL ran out), the session is past its max age: a copy
    # re-signed with a fresh timestamp (the cookie's own age) is still refused
    redis_client.delete(revoked)
    aged = _forge(_secret(settings), {**session, "iat": int(time.time()) - max_age - 1})
    with httpx.Client(base_url=url, cookies={_COOKIE: aged}) as thief:
        assert thief.get("/queue").status_code == 303
    fresh = _forge(_secret(settings), {**session, "iat": int(time.time())})
    with httpx.Client(base_url=url, cookies={_COOKIE: fresh}) as holder:
        assert holder.get("/queue").status_code == 200  # the check above is about age, not the forging


def test_parallel_guesses_get_at_most_the_limit_of_password_checks(
    review_settings_factory: Callable[..., Settings], review_server: Callable[[Settings], str]
) -> None:
    settings = review_settings_factory(review={"max_failed_logins": 5})
    url = review_server(settings)
    guessers = [httpx.Client(base_url=url, timeout=60) for _ in range(40)]
    try:
        tokens = [_token(client) for client in guessers]  # a fresh form each: the throttle is what stops them

        def guess(i: int) -> int:
            form = {"reviewer": "alice", "password": f"guess-{i}", "csrf_token": tokens[i]}
            return guessers[i].post("/login", data=form).status_code

        with ThreadPoolExecutor(max_workers=40) as pool:
            statuses = list(pool.map(guess, range(40)))
    finally:
        for client in guessers:
            client.close()
    checked = statuses.count(401)  # a real password check said no
    assert statuses.count(429) + checked == 40, statuses
    assert checked <= 5, f"{checked} guesses got a password check, the limit is 5"
    metrics = httpx.get(f"{url}/metrics").text
    assert 'processor_review_login_failures_total{reason="bad_credentials"} ' + f"{checked}.0" in metrics


def test_a_sign_in_form_serves_one_attempt_and_a_name_is_not_locked_from_elsewhere(
    review_settings_factory: Callable[..., Settings], review_server: Callable[[Settings], str]
) -> None:
    settings = review_settings_factory(review={"max_failed_logins": 3})
    url = review_server(settings)
    attacker = {"X-Forwarded-For": "203.0.113.7"}  # the app believes its proxy (127.0.0.1) about it
    with httpx.Client(base_url=url) as client:
        token = _token(client, **attacker)
        form = {"reviewer": "alice", "password": "wrong", "csrf_token": token}
        assert client.post("/login", data=form, headers=attacker).status_code == 401
        assert client.post("/login", data=form, headers=attacker).status_code == 403  # the token was used
        for _ in range(4):
            _sign_in(client, "alice", "wrong", **attacker)
        assert _sign_in(client, "alice", PASSWORDS["alice"], **attacker).status_code == 429
    with httpx.Client(base_url=url) as alice:
        # alice, from her own address, is not locked out by the attacker typing her name
        answer = _sign_in(alice, "alice", PASSWORDS["alice"], **{"X-Forwarded-For": "198.51.100.2"})
        assert answer.status_code == 303 and answer.headers["location"] == "/queue"
