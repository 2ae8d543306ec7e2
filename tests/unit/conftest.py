"""Shared fixtures for the serving and training tests: a synthetic ``user_signed_up`` stream whose
label is learnable but not trivially so. The hand-built sample records come from ``tests/conftest.py``."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from helpers.records import HOUR, T0
from processor.config import Settings, load_settings


@pytest.fixture
def settings_for(tmp_path: Path) -> Callable[[], Settings]:
    def make() -> Settings:
        return load_settings(models={"dir": tmp_path / "models"})

    return make


SignupFactory = Callable[..., list[dict[str, Any]]]
JsonlWriter = Callable[..., Path]


@pytest.fixture
def make_signups() -> SignupFactory:
    """The synthetic sign-up generator (a fixture: with importlib import mode tests cannot import conftest)."""
    return synthetic_signups


@pytest.fixture
def jsonl() -> JsonlWriter:
    """Writes dicts as JSON lines, then any extra raw lines."""
    return write_jsonl


def synthetic_signups(n: int, seed: int = 1) -> list[dict[str, Any]]:
    """``n`` sign-up events over ~30 days with a ``label`` key: ~20 % ``fraud``, ``legit`` otherwise.

    Fraud tends to use disposable domains, digit-heavy addresses, fast forms, foreign IPs, bot user
    agents and shared IPs; every signal is noisy so the problem is learnable, not trivial.
    """
    rng = random.Random(seed)
    span = 30 * 24 * HOUR
    fraud_ips = [f"198.51.100.{i}" for i in range(8)]
    events = []
    for i in range(n):
        fraud = rng.random() < 0.2
        local = "".join(rng.choice("abcdefghij") for _ in range(rng.randint(4, 10)))
        if fraud and rng.random() < 0.4:
            local += str(rng.randint(100, 99999))
        elif rng.random() < 0.2:
            local += str(rng.randint(1, 99))
        domain = (
            rng.choice(["mailinator.com", "yopmail.com", "gmail.com"])
            if fraud and rng.random() < 0.6
            else (rng.choice(["gmail.com", "outlook.com", "example.com", "corp.example"]))
        )
        country = rng.choice(["DE", "FR", "US", "GB"])
        mismatch = rng.random() < (0.5 if fraud else 0.08)
        ip = rng.choice(fraud_ips) if fraud and rng.random() < 0.5 else f"10.{rng.randint(0, 255)}.{i % 250}.{i % 7}"
        event: dict[str, Any] = {
            "event_id": f"su-{i}",
            "event_type": "user_signed_up",
            "schema_version": 2 if i % 3 else 1,
            "occurred_at": T0 + int(span * i / n) + rng.randint(0, 1000),
            "entity_id": f"user-{i}",
            "email": f"{local}@{domain}",
            "country": country,
            "ip_address": ip,
            "ip_country": None if rng.random() < 0.05 else ("BR" if mismatch else country),
            "device_type": rng.choice(["bot", "desktop"])
            if fraud and rng.random() < 0.3
            else rng.choice(["desktop", "mobile", "tablet"]),
            "user_agent": "python-requests/2.31" if fraud and rng.random() < 0.3 else "Mozilla/5.0 (Windows NT 10.0)",
            "plan": rng.choice(["free", "pro", "business", "enterprise"]),
            "marketing_source": rng.choice(["organic", "ads", "referral", None]),
            "age_years": rng.randint(18, 80),
            "signup_duration_ms": int(rng.lognormvariate(8.8 if fraud else 9.8, 1.0)),
            "email_verified": rng.random() < (0.1 if fraud else 0.6),
            "label": "fraud" if fraud else "legit",
        }
        if event["schema_version"] == 2:
            event["referral_code"] = "R1" if rng.random() < 0.1 else None
        events.append(event)
    return events


def write_jsonl(path: Path, items: list[dict[str, Any]], extra_lines: tuple[str, ...] = ()) -> Path:
    with path.open("w", encoding="utf-8") as handle:
        for item in items:
            handle.write(json.dumps(item) + "\n")
        for line in extra_lines:
            handle.write(line + "\n")
    return path
