"""Features of ``user_signed_up``: signals of fake or abusive account creation.

Everything here is a pure function of one validated record (latest schema, so v1 events carry
``referral_code=None``) plus the history counts the caller supplies. Lookup tables and patterns
are built at import. ``compute`` describes one record (training); ``compute_batch`` gives the same
rows for a whole batch (serving), a column at a time, with the per-value parts shared.

Categorical fields become fixed ordinal codes rather than one-hot columns: trees split ordinal
codes fine, and a fixed table keeps the feature vector's meaning stable across model versions.
Unseen categories map to an explicit "other" code (not NaN) because "a value we do not know" is
itself a signal, distinct from "no value".
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from processor.features.base import HistoryCounter

_HOUR_MS = 3_600_000
_DAY_MS = 24 * _HOUR_MS

HISTORY: tuple[HistoryCounter, ...] = (
    # Bursts of sign-ups from one address are the classic scripted-registration pattern.
    HistoryCounter("signups_same_ip_1h", "ip_address", _HOUR_MS),
    HistoryCounter("signups_same_ip_24h", "ip_address", _DAY_MS),
    # Country volume: a sudden spike from one declared country is a campaign signal.
    HistoryCounter("signups_same_country_1h", "country", _HOUR_MS),
)

FEATURE_NAMES: tuple[str, ...] = (
    "email_disposable_domain",
    "email_free_provider",
    "email_local_length",
    "email_local_digits",
    "email_local_digit_ratio",
    "email_local_has_plus",
    "email_verified",
    "ip_country_mismatch",
    "device_type_code",
    "plan_code",
    "marketing_source_code",
    "has_referral_code",
    "age_years",
    "log_signup_duration_ms",
    "user_agent_length",
    "user_agent_automation",
    "hour_of_day_utc",
    *(c.name for c in HISTORY),
)

#: Throwaway-mailbox providers. A subdomain of one of these matches too (see ``_domain_in``).
DISPOSABLE_DOMAINS: frozenset[str] = frozenset(
    {
        "10minutemail.com",
        "10minutemail.net",
        "20minutemail.com",
        "33mail.com",
        "anonbox.net",
        "burnermail.io",
        "discard.email",
        "dispostable.com",
        "emailondeck.com",
        "fakeinbox.com",
        "getairmail.com",
        "getnada.com",
        "guerrillamail.biz",
        "guerrillamail.com",
        "guerrillamail.de",
        "guerrillamail.net",
        "guerrillamail.org",
        "guerrillamailblock.com",
        "grr.la",
        "harakirimail.com",
        "inboxkitten.com",
        "jetable.org",
        "mail-temp.com",
        "mailcatch.com",
        "maildrop.cc",
        "mailinator.com",
        "mailinator.net",
        "mailnesia.com",
        "mailpoof.com",
        "mintemail.com",
        "mohmal.com",
        "moakt.com",
        "mytemp.email",
        "nada.email",
        "sharklasers.com",
        "spam4.me",
        "spambox.us",
        "spamgourmet.com",
        "tempail.com",
        "tempinbox.com",
        "tempmail.com",
        "tempmail.net",
        "tempmailo.com",
        "temp-mail.io",
        "temp-mail.org",
        "tempr.email",
        "throwawaymail.com",
        "trashmail.com",
        "trashmail.de",
        "trashmail.net",
        "yopmail.com",
        "yopmail.fr",
        "yopmail.net",
    }
)

#: Large free webmail providers: legitimate, but a different population from company domains.
FREE_PROVIDERS: frozenset[str] = frozenset(
    {
        "aol.com",
        "gmail.com",
        "gmx.com",
        "gmx.de",
        "googlemail.com",
        "hotmail.com",
        "icloud.com",
        "live.com",
        "mail.com",
        "mail.ru",
        "me.com",
        "msn.com",
        "outlook.com",
        "proton.me",
        "protonmail.com",
        "qq.com",
        "web.de",
        "yahoo.com",
        "yandex.ru",
        "zoho.com",
    }
)

#: Ordinal codes. NaN means the field is absent; ``*_OTHER`` means present but not in the table.
DEVICE_TYPE_CODES: Mapping[str, float] = {"desktop": 0.0, "mobile": 1.0, "tablet": 2.0, "bot": 3.0, "unknown": 4.0}
DEVICE_TYPE_OTHER = 5.0
PLAN_CODES: Mapping[str, float] = {"free": 0.0, "pro": 1.0, "business": 2.0, "enterprise": 3.0}
PLAN_OTHER = 4.0
MARKETING_SOURCE_CODES: Mapping[str, float] = {
    "organic": 0.0,
    "ads": 1.0,
    "referral": 2.0,
    "partner": 3.0,
    "email": 4.0,
    "social": 5.0,
}
MARKETING_SOURCE_OTHER = 9.0

# Scripted clients and headless browsers announce themselves in the User-Agent more often than not.
# Matched against the lower-cased User-Agent: ten times faster than re.IGNORECASE on this pattern.
_AUTOMATION_UA = re.compile(
    r"bot\b|crawl|spider|scrap|headless|phantomjs|selenium|puppeteer|playwright|webdriver"
    r"|curl/|wget/|python-requests|python-urllib|aiohttp|httpx|go-http-client|okhttp|java/|libwww|httpclient"
)


def _domain_in(domain: str, table: frozenset[str]) -> bool:
    """True when the domain or any parent domain is in the table (``x.mailinator.com`` matches)."""
    if domain in table:
        return True
    dot = domain.find(".")
    while dot != -1:
        domain = domain[dot + 1 :]
        if domain in table:
            return True
        dot = domain.find(".")
    return False


def _code(value: Any, table: Mapping[str, float], other: float) -> float:
    if value is None or value == "":
        return math.nan
    return table.get(str(value).strip().lower(), other)


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return math.nan
    return float(value)


_NO_EMAIL = (math.nan,) * 6


def _email(email: Any) -> tuple[float, ...]:
    """disposable, free, local length, local digits, digit ratio, has plus."""
    if not (isinstance(email, str) and "@" in email):
        return _NO_EMAIL
    local, _, domain = email.rpartition("@")
    domain = domain.strip().lower().rstrip(".")
    n_digits = sum(ch.isdigit() for ch in local)
    return (
        1.0 if _domain_in(domain, DISPOSABLE_DOMAINS) else 0.0,
        1.0 if domain in FREE_PROVIDERS else 0.0,
        float(len(local)),
        float(n_digits),
        n_digits / len(local) if local else math.nan,
        1.0 if "+" in local else 0.0,
    )


def _verified(verified: Any) -> float:
    return math.nan if verified is None else (1.0 if verified else 0.0)


def _mismatch(country: Any, ip_country: Any) -> float:
    if isinstance(ip_country, str) and ip_country and isinstance(country, str) and country:
        return 0.0 if ip_country.upper() == country.upper() else 1.0
    return math.nan


def _has_referral(referral: Any) -> float:
    return 1.0 if isinstance(referral, str) and referral.strip() else 0.0


def _log_duration(value: Any) -> float:
    duration = _number(value)
    return math.log1p(duration) if duration >= 0 else math.nan  # NaN compares False: stays NaN


def _user_agent(ua: Any) -> tuple[float, float]:
    if isinstance(ua, str) and ua:
        return float(len(ua)), 1.0 if _AUTOMATION_UA.search(ua.lower()) else 0.0
    return math.nan, math.nan


def _hour(occurred_at: Any) -> float:
    return float((occurred_at // _HOUR_MS) % 24) if isinstance(occurred_at, int) else math.nan


def compute(record: Mapping[str, Any], history: Mapping[str, int]) -> list[float]:
    """The feature vector of one validated sign-up, in ``FEATURE_NAMES`` order."""
    return [
        *_email(record.get("email")),
        _verified(record.get("email_verified")),
        _mismatch(record.get("country"), record.get("ip_country")),
        _code(record.get("device_type"), DEVICE_TYPE_CODES, DEVICE_TYPE_OTHER),
        _code(record.get("plan"), PLAN_CODES, PLAN_OTHER),
        _code(record.get("marketing_source"), MARKETING_SOURCE_CODES, MARKETING_SOURCE_OTHER),
        _has_referral(record.get("referral_code")),
        _number(record.get("age_years")),
        _log_duration(record.get("signup_duration_ms")),
        *_user_agent(record.get("user_agent")),
        _hour(record.get("occurred_at")),
        *(float(history.get(c.name, 0)) for c in HISTORY),
    ]


def compute_batch(
    records: Sequence[Mapping[str, Any]], history: Mapping[str, npt.NDArray[np.int64]]
) -> npt.NDArray[np.float64]:
    """``compute`` of every record, one row each, built a column at a time."""
    out = np.empty((len(records), len(FEATURE_NAMES)), dtype=np.float64)
    if not records:
        return out
    out[:, 0:6] = [_email(r.get("email")) for r in records]
    out[:, 6] = [_verified(r.get("email_verified")) for r in records]
    out[:, 7] = [_mismatch(r.get("country"), r.get("ip_country")) for r in records]
    out[:, 8] = [_code(r.get("device_type"), DEVICE_TYPE_CODES, DEVICE_TYPE_OTHER) for r in records]
    out[:, 9] = [_code(r.get("plan"), PLAN_CODES, PLAN_OTHER) for r in records]
    out[:, 10] = [_code(r.get("marketing_source"), MARKETING_SOURCE_CODES, MARKETING_SOURCE_OTHER) for r in records]
    out[:, 11] = [_has_referral(r.get("referral_code")) for r in records]
    out[:, 12] = [_number(r.get("age_years")) for r in records]
    out[:, 13] = [_log_duration(r.get("signup_duration_ms")) for r in records]
    out[:, 14:16] = [_user_agent(r.get("user_agent")) for r in records]
    out[:, 16] = [_hour(r.get("occurred_at")) for r in records]
    for column, counter in enumerate(HISTORY, start=17):
        out[:, column] = history.get(counter.name, 0.0)
    return out
