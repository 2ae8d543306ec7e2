"""Realistic valid events for the synthetic types, with ground-truth labels.

Each generator is deterministic given its ``random.Random``: the same seed gives the same events
byte for byte, so a failing test or a surprising demo run can be replayed exactly.

The labels are meant to be learnable but not trivially so. Fraud and rejected uploads *tend* to
show the tell-tale signals (disposable mailboxes, bots, mismatched MIME types...) and legitimate
traffic *sometimes* shows them too (travellers on foreign IPs, password-manager autofill, a
scanner that sends ``application/octet-stream``). A model that scores 100% here would be learning
the simulator, not the problem.

Every record carries every field of its writer schema, in schema order, so it can be encoded as
JSON or Avro alike. The envelope (``event_id``, ``occurred_at``, ``entity_id``, ``sequence``,
``source``) is filled here; the stream assembler decides event times and interleaving.
"""

from __future__ import annotations

import math
import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from processor.devtools.simulate import vocabulary as vocab

T = TypeVar("T")

USER_SIGNED_UP = "user_signed_up"
DOCUMENT_UPLOADED = "document_uploaded"


@dataclass(frozen=True, slots=True)
class GeneratedEvent:
    """A valid event (all schema fields present) and its ground-truth label (None: unknown)."""

    record: dict[str, Any]
    label: str | None

    @property
    def event_id(self) -> str:
        return str(self.record["event_id"])

    @property
    def event_type(self) -> str:
        return str(self.record["event_type"])

    @property
    def entity_id(self) -> str:
        return str(self.record["entity_id"])

    @property
    def occurred_at(self) -> int:
        return int(self.record["occurred_at"])

    @property
    def schema_version(self) -> int:
        version = self.record.get("schema_version")
        return int(version) if version is not None else 1


def random_uuid(rng: random.Random) -> str:
    """A version-4 UUID drawn from ``rng`` (``uuid.uuid4`` reads the OS and would not replay)."""
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


class Weighted(Generic[T]):
    """A weighted choice with the cumulative weights computed once (generators draw millions)."""

    def __init__(self, items: Sequence[tuple[T, float]]) -> None:
        self.items = [item for item, _ in items]
        total = 0.0
        self.cum: list[float] = []
        for _, weight in items:
            total += weight
            self.cum.append(total)

    def pick(self, rng: random.Random) -> T:
        return rng.choices(self.items, cum_weights=self.cum)[0]


def _lognormal_int(rng: random.Random, median: float, sigma: float, low: int, high: int) -> int:
    return max(low, min(high, round(rng.lognormvariate(math.log(median), sigma))))


# --------------------------------------------------------------------------------------------
# user_signed_up
# --------------------------------------------------------------------------------------------

_FREE_DOMAINS = Weighted(vocab.FREE_EMAIL_DOMAINS)
_COUNTRIES = Weighted(vocab.COUNTRIES)
_FRAUD_IP_COUNTRIES = Weighted(vocab.FRAUD_IP_COUNTRIES)
# "bot" among honest sign-ups: integrations and scripts creating accounts through the API.
_LEGIT_DEVICES = Weighted([("desktop", 51.0), ("mobile", 37.0), ("tablet", 8.0), ("unknown", 3.0), ("bot", 1.0)])
_LONE_FRAUD_DEVICES = Weighted([("desktop", 45.0), ("mobile", 25.0), ("bot", 15.0), ("unknown", 15.0)])
# Rings are scripts (bot, unknown) or click farms (people on desktops and phones, at human pace).
_RING_DEVICES = Weighted([("bot", 35.0), ("unknown", 15.0), ("desktop", 30.0), ("mobile", 20.0)])
_LEGIT_PLANS = Weighted([("free", 60.0), ("pro", 25.0), ("business", 11.0), ("enterprise", 4.0)])
_FRAUD_PLANS = Weighted([("free", 85.0), ("pro", 12.0), ("business", 3.0)])
_LEGIT_SOURCES: Weighted[str | None] = Weighted(
    [
        ("organic", 35.0),
        ("ads", 25.0),
        ("referral", 10.0),
        ("partner", 5.0),
        ("email", 8.0),
        ("social", 10.0),
        (None, 7.0),
    ]
)
_FRAUD_SOURCES: Weighted[str | None] = Weighted(
    [("ads", 35.0), ("referral", 25.0), (None, 25.0), ("social", 10.0), ("organic", 5.0)]
)
_RESERVED_FIRST_OCTETS = frozenset({0, 10, 100, 127, 169, 172, 192, 198, 203})
_ALNUM = "abcdefghijklmnopqrstuvwxyz0123456789"
_CODE_CHARS = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def _ipv4(rng: random.Random) -> str:
    first = rng.randint(1, 223)
    while first in _RESERVED_FIRST_OCTETS:
        first = rng.randint(1, 223)
    return f"{first}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"


def _ipv6(rng: random.Random) -> str:
    prefix = rng.choice(("2a02", "2a01", "2600", "2001", "2403", "2804"))
    return prefix + ":" + ":".join(f"{rng.getrandbits(16):x}" for _ in range(7))


def _ip(rng: random.Random, v6_share: float) -> str:
    return _ipv6(rng) if rng.random() < v6_share else _ipv4(rng)


def _referral_code(rng: random.Random) -> str:
    return "REF-" + "".join(rng.choice(_CODE_CHARS) for _ in range(6))


def _legit_local_part(rng: random.Random) -> str:
    first, last = rng.choice(vocab.FIRST_NAMES), rng.choice(vocab.LAST_NAMES)
    style = rng.random()
    if style < 0.30:
        local = f"{first}.{last}"
    elif style < 0.45:
        local = f"{first}{last}"
    elif style < 0.58:
        local = f"{first[0]}{last}"
    elif style < 0.66:
        local = f"{first}_{last}"
    elif style < 0.80:
        local = f"{first}{rng.randint(1960, 2008)}"  # birth years: honest digits
    elif style < 0.88:
        local = f"{first}.{last}{rng.randint(1, 99)}"
    elif style < 0.94:
        local = f"{first}"
    else:
        local = f"{first}.{last}+{rng.choice(('news', 'apps', 'work', 'shop'))}"
    return local


def _fraud_local_part(rng: random.Random) -> str:
    style = rng.random()
    if style < 0.4:  # keyboard mash plus a long number
        letters = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(3, 8)))
        return letters + str(rng.randint(10_000, 99_999_999))
    if style < 0.7:  # a real-looking name with a serial number (bulk-generated accounts)
        return f"{rng.choice(vocab.FIRST_NAMES)}.{rng.choice(vocab.LAST_NAMES)}{rng.randint(1000, 999_999)}"
    if style < 0.9:
        return "".join(rng.choice(_ALNUM) for _ in range(rng.randint(8, 14)))
    return _legit_local_part(rng)  # some fraudsters do not look like anything


def _agent(rng: random.Random, device: str) -> str | None:
    if device == "desktop":
        return rng.choice(vocab.DESKTOP_AGENTS)
    if device == "mobile":
        return rng.choice(vocab.MOBILE_AGENTS)
    if device == "tablet":
        return rng.choice(vocab.TABLET_AGENTS)
    if device == "bot":
        return rng.choice(vocab.AUTOMATION_AGENTS)
    return None if rng.random() < 0.4 else rng.choice(vocab.ODD_AGENTS)


def _foreign_country(rng: random.Random, country: str) -> str:
    other = _FRAUD_IP_COUNTRIES.pick(rng)
    return other if other != country else _COUNTRIES.pick(rng)


@dataclass(slots=True)
class _Ring:
    """A fraud ring: one operator registering accounts in bulk from a few addresses."""

    ips: list[str]
    ip_country: str
    declared: list[str]
    device: str
    agent: str | None
    disposable: bool
    referral_codes: list[str]
    remaining: int


@dataclass(slots=True)
class _Signup:
    email: str
    country: str
    ip_address: str
    ip_country: str | None
    device_type: str
    user_agent: str | None
    plan: str
    marketing_source: str | None
    age_years: int | None
    signup_duration_ms: int
    email_verified: bool
    referral_code: str | None


class UserSignupGenerator:
    """``user_signed_up`` events: ~8% fraud, a good share of it from rings reusing a few IPs.

    Fraud comes two ways. Rings start now and then and register a burst of accounts from one to
    three addresses (so "sign-ups from this IP in the last hour" matters); lone fraudsters show a
    random subset of the usual signals. Legitimate users are diverse and occasionally look odd.
    ``v2_share`` of events use schema version 2 (with ``referral_code``), the rest version 1.
    """

    event_type = USER_SIGNED_UP
    source = "signup-service"

    def __init__(
        self,
        rng: random.Random,
        *,
        v2_share: float = 0.6,
        ring_start_p: float = 0.0045,
        ring_emit_p: float = 0.5,
        lone_fraud_p: float = 0.03,
    ) -> None:
        self._rng = rng
        self._v2_share = v2_share
        self._ring_start_p = ring_start_p
        self._ring_emit_p = ring_emit_p
        self._lone_fraud_p = lone_fraud_p
        self._ring: _Ring | None = None
        # Offices, campuses and carrier-grade NAT put many honest people behind one address.
        self._shared_ips = [_ipv4(rng) for _ in range(60)]

    def next(self, occurred_at: int) -> GeneratedEvent:
        rng = self._rng
        if self._ring is not None and self._ring.remaining <= 0:
            self._ring = None
        if self._ring is None and rng.random() < self._ring_start_p:
            self._ring = self._new_ring()
        ring = self._ring
        if ring is not None and rng.random() < self._ring_emit_p:
            ring.remaining -= 1
            signup, label = self._ring_member(ring), "fraud"
        elif rng.random() < self._lone_fraud_p:
            signup, label = self._lone_fraudster(), "fraud"
        else:
            signup, label = self._legit(), "legit"
        return GeneratedEvent(self._record(signup, occurred_at), label)

    def _record(self, s: _Signup, occurred_at: int) -> dict[str, Any]:
        rng = self._rng
        v2 = rng.random() < self._v2_share
        record: dict[str, Any] = {
            "event_id": random_uuid(rng),
            "event_type": USER_SIGNED_UP,
            "schema_version": 2 if v2 else 1,
            "occurred_at": occurred_at,
            "entity_id": "u-" + random_uuid(rng),
            "sequence": None,
            "source": self.source,
            "email": s.email,
            "country": s.country,
            "ip_address": s.ip_address,
            "ip_country": s.ip_country,
            "device_type": s.device_type,
            "user_agent": s.user_agent,
            "plan": s.plan,
            "marketing_source": s.marketing_source,
            "age_years": s.age_years,
            "signup_duration_ms": s.signup_duration_ms,
            "email_verified": s.email_verified,
        }
        if v2:
            record["referral_code"] = s.referral_code
        return record

    def _legit(self) -> _Signup:
        rng = self._rng
        country = _COUNTRIES.pick(rng)
        roll = rng.random()
        if roll < 0.02:  # privacy-minded people use throwaway mailboxes too
            domain = rng.choice(vocab.DISPOSABLE_EMAIL_DOMAINS)
        elif roll < 0.30:
            domain = rng.choice(vocab.COMPANY_DOMAINS)
        else:
            domain = _FREE_DOMAINS.pick(rng)
        # Travellers, VPN users, corporate egress in another country; geolocation gaps (None).
        roll = rng.random()
        ip_country: str | None = country
        if roll < 0.05:
            ip_country = _COUNTRIES.pick(rng)
        elif roll < 0.07:
            ip_country = None
        device = _LEGIT_DEVICES.pick(rng)
        if rng.random() < 0.03:  # password managers and autofill make some humans fast
            duration = _lognormal_int(rng, 2_500, 0.5, 600, 86_400_000)
        elif rng.random() < 0.03:  # the tab was left open
            duration = _lognormal_int(rng, 1_200_000, 1.0, 60_000, 86_400_000)
        else:
            duration = _lognormal_int(rng, 45_000, 0.6, 4_000, 86_400_000)
        age = None if rng.random() < 0.28 else max(16, min(90, round(rng.gauss(37, 12))))
        referral = _referral_code(rng) if rng.random() < 0.12 else None
        return _Signup(
            email=f"{_legit_local_part(rng)}@{domain}",
            country=country,
            ip_address=rng.choice(self._shared_ips) if rng.random() < 0.04 else _ip(rng, 0.15),
            ip_country=ip_country,
            device_type=device,
            user_agent=_agent(rng, device) if rng.random() > 0.01 else None,
            plan=_LEGIT_PLANS.pick(rng),
            marketing_source=_LEGIT_SOURCES.pick(rng),
            age_years=age,
            signup_duration_ms=duration,
            email_verified=rng.random() < 0.35,  # social sign-in verifies at once
            referral_code=referral,
        )

    def _lone_fraudster(self) -> _Signup:
        rng = self._rng
        if rng.random() < 0.35:
            # A careful fraudster with a synthetic identity: a human pace, a plausible address.
            # Only faint traces remain (an unverified address, the free plan, sometimes a foreign IP).
            signup = self._legit()
            signup.email_verified = rng.random() < 0.1
            signup.plan = "free" if rng.random() < 0.75 else signup.plan
            if rng.random() < 0.3:
                signup.ip_country = _foreign_country(rng, signup.country)
            return signup
        country = _COUNTRIES.pick(rng)
        domain = rng.choice(vocab.DISPOSABLE_EMAIL_DOMAINS) if rng.random() < 0.45 else _FREE_DOMAINS.pick(rng)
        local = _fraud_local_part(rng) if rng.random() < 0.6 else _legit_local_part(rng)
        device = _LONE_FRAUD_DEVICES.pick(rng)
        fast = device == "bot" or rng.random() < 0.3
        duration = (
            _lognormal_int(rng, 1_500, 0.6, 150, 86_400_000)
            if fast
            else _lognormal_int(rng, 16_000, 0.5, 2_000, 86_400_000)
        )
        return _Signup(
            email=f"{local}@{domain}",
            country=country,
            ip_address=_ip(rng, 0.05),
            ip_country=_foreign_country(rng, country) if rng.random() < 0.5 else country,
            device_type=device,
            user_agent=_agent(rng, device),
            plan=_FRAUD_PLANS.pick(rng),
            marketing_source=_FRAUD_SOURCES.pick(rng),
            age_years=None if rng.random() < 0.45 else rng.choice((18, 18, 21, 25, 30, 99, rng.randint(18, 40))),
            signup_duration_ms=duration,
            email_verified=rng.random() < 0.05,
            referral_code=_referral_code(rng) if rng.random() < 0.2 else None,
        )

    def _new_ring(self) -> _Ring:
        rng = self._rng
        ip_country = _FRAUD_IP_COUNTRIES.pick(rng)
        device = _RING_DEVICES.pick(rng)
        # Rings claim to be from rich markets, sometimes truthfully from where their IPs are.
        declared = [rng.choice(("US", "US", "GB", "DE", "CA", "AU")), ip_country]
        return _Ring(
            ips=[_ipv4(rng) for _ in range(rng.randint(1, 3))],
            ip_country=ip_country,
            declared=declared,
            device=device,
            agent=_agent(rng, device),
            disposable=rng.random() < 0.6,
            referral_codes=[_referral_code(rng) for _ in range(rng.randint(1, 2))] if rng.random() < 0.35 else [],
            remaining=rng.randint(5, 20),
        )

    def _ring_member(self, ring: _Ring) -> _Signup:
        rng = self._rng
        domain = rng.choice(vocab.DISPOSABLE_EMAIL_DOMAINS) if ring.disposable else _FREE_DOMAINS.pick(rng)
        scripted = ring.device in ("bot", "unknown")
        local = _fraud_local_part(rng) if scripted or rng.random() < 0.5 else _legit_local_part(rng)
        return _Signup(
            email=f"{local}@{domain}",
            country=rng.choice(ring.declared),
            ip_address=rng.choice(ring.ips),
            ip_country=ring.ip_country,
            device_type=ring.device,
            user_agent=ring.agent,
            plan="free" if rng.random() < 0.9 else "pro",
            marketing_source=rng.choice(("ads", "referral", None)),
            age_years=None if rng.random() < 0.5 else rng.randint(18, 35),
            signup_duration_ms=(
                _lognormal_int(rng, 1_200, 0.5, 150, 86_400_000)
                if scripted
                else _lognormal_int(rng, 18_000, 0.5, 2_000, 86_400_000)
            ),
            email_verified=rng.random() < 0.03,
            referral_code=rng.choice(ring.referral_codes) if ring.referral_codes and rng.random() < 0.8 else None,
        )


# --------------------------------------------------------------------------------------------
# document_uploaded
# --------------------------------------------------------------------------------------------

_DOC_KINDS = Weighted([((ext, mime, median), weight) for ext, mime, weight, median in vocab.DOCUMENT_KINDS])
_MAX_DOC_BYTES = 104_857_600  # the pipeline's size_bytes maximum: valid events stay within it
_REJECT_REASONS = Weighted(
    [
        ("disguised_executable", 30.0),
        ("mime_spoof", 13.0),
        ("corrupt", 20.0),
        ("truncated", 12.0),
        ("empty", 10.0),
        ("huge", 5.0),
        ("looks_clean", 20.0),  # rejected for content or policy: nothing in the metadata shows it
    ]
)


@dataclass(slots=True)
class _Uploader:
    uploader_id: str
    profile: str  # normal | abuser | flaky
    remaining: int
    sequence: int = 0
    hashes: list[str] = field(default_factory=list)  # what this uploader sent before


class DocumentUploadGenerator:
    """``document_uploaded`` events: uploaders upload in sessions, ~10% of documents are rejected.

    Uploaders come back with per-uploader ``sequence`` 1, 2, 3... Most are ordinary; a few are
    abusers (long bursts of disguised executables and resubmitted bytes) and a few have flaky
    clients (truncated uploads). The label follows the uploader's profile, and the reject reason
    decides which signals show: a MIME mismatch, a double extension, a corrupt or truncated body,
    an empty file, a huge one, or nothing at all (content-policy rejections).
    """

    event_type = DOCUMENT_UPLOADED
    source = "upload-gateway"

    def __init__(self, rng: random.Random, *, max_active: int = 12) -> None:
        self._rng = rng
        self._max_active = max_active
        self._active: list[_Uploader] = []

    def next(self, occurred_at: int) -> GeneratedEvent:
        return self._upload(self._pick_uploader(), occurred_at)

    def next_pair(self, first_at: int, second_at: int) -> tuple[GeneratedEvent, GeneratedEvent]:
        """Two consecutive uploads of one uploader (sequence n and n+1), for out-of-order faults.

        The pair ends the uploader's session: a later upload placed between the pair's two event
        times would otherwise carry a higher sequence but an earlier time than the second one.
        """
        uploader = self._pick_uploader()
        uploader.remaining = 2
        return self._upload(uploader, first_at), self._upload(uploader, second_at)

    def _pick_uploader(self) -> _Uploader:
        rng = self._rng
        if not self._active or (len(self._active) < self._max_active and rng.random() < 0.3):
            uploader = self._new_uploader()
            self._active.append(uploader)
            return uploader
        # Abusers upload in tight bursts: they get picked far more often while active.
        weights = [5.0 if u.profile == "abuser" else 1.0 for u in self._active]
        return rng.choices(self._active, weights=weights)[0]

    def _new_uploader(self) -> _Uploader:
        rng = self._rng
        roll = rng.random()
        if roll < 0.012:
            profile, docs = "abuser", rng.randint(8, 30)
        elif roll < 0.07:
            profile, docs = "flaky", rng.randint(2, 8)
        else:
            profile, docs = "normal", min(15, 1 + int(rng.expovariate(1 / 1.6)))
        return _Uploader(uploader_id="u-" + random_uuid(rng), profile=profile, remaining=docs)

    def _upload(self, uploader: _Uploader, occurred_at: int) -> GeneratedEvent:
        rng = self._rng
        uploader.sequence += 1
        uploader.remaining -= 1
        if uploader.remaining <= 0 and uploader in self._active:
            self._active.remove(uploader)
        reject_p = {"abuser": 0.65, "flaky": 0.3, "normal": 0.02}[uploader.profile]
        if rng.random() < reject_p:
            reason = "truncated" if uploader.profile == "flaky" and rng.random() < 0.7 else _REJECT_REASONS.pick(rng)
            doc = self._rejected(reason, uploader)
            label = "reject"
        else:
            doc = self._accepted()
            label = "accept"
        if uploader.profile == "abuser" and uploader.hashes and rng.random() < 0.5:
            doc["sha256"] = rng.choice(uploader.hashes)  # the same payload, sprayed again
        uploader.hashes.append(doc["sha256"])
        document_id = "doc_" + doc["sha256"][:24]  # content-addressed
        status = doc["upload_status"]
        stored = status != "truncated"  # the gateway keeps corrupt bodies for forensics, not partial ones
        record: dict[str, Any] = {
            "event_id": random_uuid(rng),
            "event_type": DOCUMENT_UPLOADED,
            "schema_version": 1,
            "occurred_at": occurred_at,
            "entity_id": uploader.uploader_id,
            "sequence": uploader.sequence,
            "source": self.source,
            "document_id": document_id,
            "uploader_id": uploader.uploader_id,
            "file_name": doc["file_name"],
            "mime_type": doc["mime_type"],
            "detected_mime_type": doc["detected_mime_type"],
            "size_bytes": doc["size_bytes"],
            "page_count": doc["page_count"],
            "sha256": doc["sha256"],
            "upload_status": status,
            "status_reason": doc["status_reason"],
            "storage_uri": _storage_uri(uploader.uploader_id, document_id, occurred_at) if stored else None,
        }
        return GeneratedEvent(record, label)

    # -- document bodies -----------------------------------------------------------------------

    def _base(self) -> dict[str, Any]:
        """An ordinary document of a random kind, plausible name, size and page count."""
        rng = self._rng
        ext, mime, median = _DOC_KINDS.pick(rng)
        pages: int | None = None
        if ext == "pdf":
            pages = min(400, 1 + int(rng.expovariate(1 / 5)))
            per_page = rng.lognormvariate(math.log(300_000 if rng.random() < 0.4 else 55_000), 0.6)
            size = min(_MAX_DOC_BYTES, max(800, round(pages * per_page)))
        else:
            size = _lognormal_int(rng, median, 0.9, 200, 60_000_000)
        return {
            "file_name": _file_name(rng, ext),
            "mime_type": mime,
            "detected_mime_type": mime,
            "size_bytes": size,
            "page_count": pages,
            "sha256": f"{rng.getrandbits(256):064x}",
            "upload_status": "ok",
            "status_reason": None,
        }

    def _accepted(self) -> dict[str, Any]:
        rng = self._rng
        doc = self._base()
        roll = rng.random()
        if roll < 0.04:  # scanners and old browsers declare nothing useful
            doc["mime_type"] = "application/octet-stream"
        elif roll < 0.06:  # magic bytes not recognised: an honest gap, not an attack
            doc["detected_mime_type"] = None
            doc["page_count"] = None  # nothing recognised, nothing parsed
        elif roll < 0.07 and doc["mime_type"] == "image/jpeg":
            doc["mime_type"] = "image/jpg"  # a common non-standard alias
        if doc["mime_type"] == "application/pdf" and rng.random() < 0.04:
            # "Print to PDF" keeps the source's extension: "Report.docx.pdf" is harmless.
            stem = doc["file_name"].rsplit(".", 1)[0]
            doc["file_name"] = f"{stem}.{rng.choice(('docx', 'doc', 'xlsx', 'pptx', 'jpg'))}.pdf"
        if doc["page_count"] is not None and rng.random() < 0.01:
            doc["upload_status"], doc["status_reason"] = "corrupt", "pdf_xref_table_broken"  # repairable
            doc["page_count"] = None
        return doc

    def _rejected(self, reason: str, uploader: _Uploader) -> dict[str, Any]:
        rng = self._rng
        doc = self._base()
        if reason == "disguised_executable":
            decoy = rng.choice(("pdf", "pdf", "docx", "jpg", "xlsx"))
            stem = _file_name(rng, decoy)
            if rng.random() < 0.15:  # right-to-left override: "invoice\u202efdp.exe" shows as "invoiceexe.pdf"
                base = stem.rsplit(".", 1)[0]
                doc["file_name"] = f"{base}\u202e{decoy[::-1]}.exe"
            else:
                doc["file_name"] = f"{stem}.{rng.choice(vocab.EXECUTABLE_EXTENSIONS)}"
            # The client believes the decoy extension, or gives up and says octet-stream.
            declared = "application/pdf" if decoy == "pdf" else doc["mime_type"]
            doc["mime_type"] = rng.choice((declared, declared, "application/octet-stream"))
            doc["detected_mime_type"] = rng.choice(vocab.EXECUTABLE_MIME_TYPES)
            doc["size_bytes"] = _lognormal_int(rng, 600_000, 1.0, 20_000, 40_000_000)
            doc["page_count"] = None
        elif reason == "mime_spoof":
            doc["file_name"] = _file_name(rng, "pdf")
            doc["mime_type"] = "application/pdf"
            doc["detected_mime_type"] = rng.choice(vocab.SPOOF_DETECTED)
            doc["size_bytes"] = _lognormal_int(rng, 40_000, 1.0, 300, 5_000_000)
            doc["page_count"] = None
        elif reason == "corrupt":
            doc["upload_status"] = "corrupt"
            doc["status_reason"] = rng.choice(vocab.CORRUPT_REASONS)
            doc["detected_mime_type"] = None if rng.random() < 0.6 else doc["detected_mime_type"]
            doc["page_count"] = None
        elif reason == "truncated":
            doc["upload_status"] = "truncated"
            doc["status_reason"] = rng.choice(vocab.TRUNCATED_REASONS)
            doc["size_bytes"] = max(0, int(doc["size_bytes"] * rng.uniform(0.0, 0.7)))
            doc["page_count"] = None
        elif reason == "empty":
            doc["size_bytes"] = rng.randint(0, 300)
            doc["page_count"] = 0 if doc["page_count"] is not None else None  # a PDF shell with no pages
            if doc["size_bytes"] < 8:  # too short for any magic number
                doc["detected_mime_type"] = doc["page_count"] = None
        elif reason == "huge":
            doc["size_bytes"] = rng.randint(60_000_000, _MAX_DOC_BYTES)
            if doc["page_count"] is not None:
                doc["page_count"] = rng.randint(2_000, 20_000)
        if uploader.profile == "abuser" and rng.random() < 0.3:
            lure = rng.choice(("document", "invoice", "payment", "DHL_shipment"))
            doc["file_name"] = f"{lure}_{rng.randint(1000, 9999)}.pdf.exe"
        return doc


def _file_name(rng: random.Random, ext: str) -> str:
    stem = rng.choice(vocab.FILE_STEMS[ext])
    year = rng.randint(2019, 2026)
    filled = stem.format(
        n=rng.randint(1, 9999),
        d=f"{year}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}",
        t=f"{rng.randint(0, 23)}.{rng.randint(0, 59):02d}.{rng.randint(0, 59):02d}",
        y=year,
        m=rng.choice(vocab.MONTHS),
        q=rng.randint(1, 4),
        v=rng.randint(1, 7),
        name=rng.choice(vocab.LAST_NAMES).capitalize(),
    )
    # Phones and cameras shout their extensions.
    return f"{filled}.{ext.upper() if ext in ('heic', 'jpg') and rng.random() < 0.3 else ext}"


def _storage_uri(uploader_id: str, document_id: str, occurred_at: int) -> str:
    day = datetime.fromtimestamp(occurred_at / 1000, tz=UTC).strftime("%Y/%m/%d")
    return f"s3://upload-gateway-prod/{day}/{uploader_id}/{document_id}"
