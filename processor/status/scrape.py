"""Read a Prometheus ``/metrics`` endpoint into plain samples, or say clearly why it could not be read."""

from __future__ import annotations

import math
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field

from prometheus_client.parser import text_string_to_metric_families

#: A scrape larger than this is not a metrics page (and would not fit one screen anyway).
_MAX_BYTES = 20_000_000


class SourceError(Exception):
    """A source that could not be read; the message is the whole story, meant for the operator."""


@dataclass(frozen=True, slots=True)
class Sample:
    name: str
    labels: dict[str, str]
    value: float


@dataclass(frozen=True)
class Scrape:
    """One endpoint's samples at one moment (``at``: monotonic seconds)."""

    url: str
    at: float
    samples: tuple[Sample, ...] = field(default_factory=tuple)

    def named(self, name: str) -> Iterator[Sample]:
        return (s for s in self.samples if s.name == name)

    def total(self, name: str, **labels: str) -> float | None:
        """Sum of a series' samples matching ``labels``; None when the endpoint has none."""
        values = [s.value for s in self.named(name) if all(s.labels.get(k) == v for k, v in labels.items())]
        finite = [v for v in values if not math.isnan(v)]
        return sum(finite) if finite else None

    def names(self) -> set[str]:
        return {s.name for s in self.samples}


def parse(url: str, text: str, at: float) -> Scrape:
    """Samples of a Prometheus text exposition; a page that is not one raises SourceError."""
    try:
        samples = tuple(
            Sample(s.name, dict(s.labels), float(s.value))
            for family in text_string_to_metric_families(text)
            for s in family.samples
        )
    except (ValueError, TypeError, IndexError) as exc:
        raise SourceError(f"{url} did not answer in the Prometheus text format ({exc})") from exc
    if not samples:
        raise SourceError(f"{url} answered, but with no metrics at all: is it the right endpoint?")
    return Scrape(url, at, samples)


def scrape(url: str, timeout_s: float) -> Scrape:
    """GET ``url`` and parse it. Every failure becomes a SourceError naming the URL and the cause."""
    request = urllib.request.Request(url, headers={"Accept": "text/plain;version=0.0.4"})
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            body = response.read(_MAX_BYTES + 1)
    except urllib.error.HTTPError as exc:
        raise SourceError(f"{url} answered HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, ConnectionRefusedError):
            raise SourceError(f"{url}: connection refused (is the service running, on that port?)") from None
        if isinstance(reason, socket.gaierror):
            raise SourceError(f"{url}: unknown host ({reason.strerror})") from None
        if isinstance(reason, TimeoutError | socket.timeout):
            raise SourceError(f"{url}: no answer within {timeout_s:g} s") from None
        raise SourceError(f"{url}: {reason}") from None
    except TimeoutError:
        raise SourceError(f"{url}: no answer within {timeout_s:g} s") from None
    except (OSError, ValueError) as exc:  # reset connections, malformed URLs
        raise SourceError(f"{url}: {exc}") from None
    if len(body) > _MAX_BYTES:
        raise SourceError(f"{url} answered more than {_MAX_BYTES} bytes: not a metrics page")
    return parse(url, body.decode("utf-8", "replace"), time.monotonic())
