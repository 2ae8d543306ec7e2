"""Start-up refuses session secrets anybody could know or guess: the example files' placeholders,
short ones, uniform ones; and a reviewer with a malformed hash is nobody."""

from __future__ import annotations

import secrets
from types import SimpleNamespace
from typing import Any

import pytest
import yaml
from pydantic import SecretStr

from processor.config import PROJECT_ROOT, load_settings
from processor.errors import ConfigError
from processor.review import web
from processor.review.passwords import hash_password
from processor.review.security import Authenticator, session_secret_problem


def _example_values() -> list[str]:
    """Every value of every example Secret and env file in the repository."""
    values: list[str] = []
    for path in sorted(PROJECT_ROOT.glob("deploy/**/*.example.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if isinstance(doc, dict) and doc.get("kind") == "Secret":
                values.extend(str(v) for v in (doc.get("stringData") or {}).values())
    for path in sorted(PROJECT_ROOT.glob("**/*.env.example")):
        values.extend(line.partition("=")[2] for line in path.read_text().splitlines() if "=" in line)
    return [v for v in values if v]


def test_the_repository_has_example_secrets_to_check() -> None:
    assert "change-me" in _example_values()


@pytest.mark.parametrize("value", _example_values())
def test_example_file_values_are_refused(value: str) -> None:
    assert session_secret_problem(value) is not None


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("change-me", "placeholder"),
        ("CHANGE-ME-" + secrets.token_hex(32), "placeholder"),
        ("an-example-secret-" + secrets.token_hex(16), "placeholder"),
        (secrets.token_hex(8), "fewer than 32"),
        ("a" * 64, "too uniform"),
        ("0123456789" * 4, "repeats"),
        ("hunter2-very-secret-9d1e", "fewer than 32"),
    ],
)
def test_weak_secrets_are_refused_with_the_reason(value: str, why: str) -> None:
    problem = session_secret_problem(value)
    assert problem is not None and why in problem


@pytest.mark.parametrize("value", [secrets.token_hex(32), secrets.token_urlsafe(32), secrets.token_urlsafe(48)])
def test_generated_secrets_pass(value: str) -> None:
    assert session_secret_problem(value) is None


def _app_with(secret: str | None) -> Any:
    settings = load_settings(review={"session_secret": secret} if secret is not None else {})
    return web.create_app(SimpleNamespace(settings=settings))  # type: ignore[arg-type]


def test_start_up_refuses_a_weak_session_secret() -> None:
    with pytest.raises(ConfigError) as err:
        _app_with("change-me")
    assert err.value.code == "weak_session_secret" and "change-me" not in str(err.value).split("refused")[0]
    _app_with(secrets.token_hex(32))  # a real one starts
    _app_with(None)  # none: a random key per process (logged)


def test_a_reviewer_with_a_malformed_hash_is_nobody() -> None:
    authenticator = Authenticator(
        {
            "alice": SecretStr(hash_password("alice-password-1")),
            "mallory": SecretStr("scrypt$16384$8$1$change-me"),
            "eve": SecretStr("plain-password"),
        }
    )
    assert authenticator.reviewers == ["alice"]
    assert sorted(authenticator.malformed) == ["eve", "mallory"]
    assert not authenticator.check("mallory", "change-me")
    assert authenticator.check("alice", "alice-password-1")
