"""API tokens checked against hashes only; Jira's HMAC signature over the raw body."""

from __future__ import annotations

import pytest

from processor.ingest.auth import TokenVerifier, hash_token, new_token, sign, signature_problem


def test_tokens_are_recognised_by_their_hash_only() -> None:
    token = new_token()
    verifier = TokenVerifier({"partner-a": hash_token(token), "partner-b": hash_token(new_token())})
    assert verifier.configured
    assert verifier.client(f"Bearer {token}") == "partner-a"
    assert verifier.client(f"bearer  {token} ") == "partner-a"
    assert verifier.client(f"Bearer {token}x") is None
    assert verifier.client(token) is None  # no scheme
    assert verifier.client(f"Basic {token}") is None
    assert verifier.client("Bearer ") is None
    assert verifier.client(None) is None
    assert verifier.client("Bearer caf\xe9") is None  # latin-1 junk from a header


def test_no_tokens_means_nobody_gets_in() -> None:
    verifier = TokenVerifier({})
    assert not verifier.configured
    assert verifier.client("Bearer anything") is None


def test_hash_format() -> None:
    digest = hash_token("t")
    assert digest.startswith("sha256:") and len(digest) == 7 + 64


SECRET = b"It's a Secret to Everybody"
BODY = b'{"webhookEvent":"jira:issue_created"}'


def test_a_good_signature_verifies() -> None:
    assert signature_problem(SECRET, BODY, sign(SECRET, BODY)) is None
    assert signature_problem(SECRET, BODY, sign(SECRET, BODY).upper().replace("SHA256", "sha256")) is None


@pytest.mark.parametrize(
    ("header", "problem"),
    [
        (None, "signature_missing"),
        ("", "signature_missing"),
        ("deadbeef", "signature_malformed"),
        ("sha256=", "signature_malformed"),
        ("sha1=" + "0" * 40, "signature_unsupported_method"),
        ("sha256=" + "0" * 64, "signature_mismatch"),
        ("sha256=caf\xe9", "signature_mismatch"),
    ],
)
def test_bad_signatures_say_why(header: str | None, problem: str) -> None:
    assert signature_problem(SECRET, BODY, header) == problem


def test_a_signature_of_another_body_or_secret_fails() -> None:
    assert signature_problem(SECRET, BODY + b" ", sign(SECRET, BODY)) == "signature_mismatch"
    assert signature_problem(SECRET, BODY, sign(b"other", BODY)) == "signature_mismatch"
