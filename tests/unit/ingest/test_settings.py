"""The gateway's settings: tokens only as hashes, the secret as a SecretStr, from the environment."""

from __future__ import annotations

import json

import pytest

from processor.config import load_settings
from processor.errors import ConfigError
from processor.ingest.auth import hash_token


def test_defaults() -> None:
    ingest = load_settings().ingest
    assert ingest.port == 8080
    assert ingest.api_tokens == {}
    assert ingest.jira_webhook_secret is None


def test_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROCESSOR_INGEST__API_TOKENS", json.dumps({"partner": hash_token("t0k")}))
    monkeypatch.setenv("PROCESSOR_INGEST__JIRA_WEBHOOK_SECRET", "s3cret")
    monkeypatch.setenv("PROCESSOR_INGEST__PORT", "9000")
    ingest = load_settings().ingest
    assert ingest.api_tokens == {"partner": hash_token("t0k")}
    assert ingest.jira_webhook_secret is not None
    assert ingest.jira_webhook_secret.get_secret_value() == "s3cret"
    assert "s3cret" not in repr(ingest)
    assert ingest.port == 9000


def test_a_plain_token_in_the_settings_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"ingest\.api_tokens"):
        load_settings(ingest={"api_tokens": {"partner": "the-token-itself"}})
