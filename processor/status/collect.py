"""Gather the operator's screen from its sources: each processor's ``/metrics`` (twice, for rates),
the review app's ``/metrics`` and the kill-switch keys in Redis. A source that fails is reported,
never raised: the screen is most needed when something is down."""

from __future__ import annotations

import time
from dataclasses import dataclass

import redis

from processor.config import Settings
from processor.decide.killswitch import GLOBAL, SwitchState, read_switch
from processor.state.keys import Keys
from processor.state.redis_client import connect
from processor.status.report import SourceRow, StatusReport, build
from processor.status.scrape import Scrape, SourceError, scrape


@dataclass(frozen=True)
class Targets:
    processor_urls: tuple[str, ...]
    review_url: str | None
    interval_s: float
    timeout_s: float

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        processor_urls: list[str] | None = None,
        review_url: str | None = None,
        interval_s: float | None = None,
    ) -> Targets:
        s = settings.status
        review = s.review_url if review_url is None else review_url
        return cls(
            processor_urls=tuple(processor_urls or s.processor_urls),
            review_url=review or None,
            interval_s=s.interval_s if interval_s is None else interval_s,
            timeout_s=s.timeout_s,
        )


def _scrape_all(urls: tuple[str, ...], timeout_s: float, sources: list[SourceRow] | None) -> dict[str, Scrape]:
    out = {}
    for url in urls:
        try:
            out[url] = scrape(url, timeout_s)
            if sources is not None:
                sources.append(SourceRow("processor", url, True))
        except SourceError as exc:
            if sources is not None:
                sources.append(SourceRow("processor", url, False, str(exc)))
    return out


def _switches(
    settings: Settings, event_types: list[str], timeout_s: float
) -> tuple[list[SwitchState] | None, str | None]:
    redis_settings = settings.redis.model_copy(
        update={"socket_timeout_s": min(settings.redis.socket_timeout_s, timeout_s)}
    )
    client = connect(redis_settings)
    try:
        keys = Keys(settings.redis.key_prefix)
        return [read_switch(client, keys, scope) for scope in [GLOBAL, *event_types]], None
    except redis.AuthenticationError:
        return None, f"{settings.redis.url}: authentication failed (PROCESSOR_REDIS__USERNAME / __PASSWORD)"
    except redis.ConnectionError as exc:
        return None, f"{settings.redis.url}: cannot connect ({exc})"
    except redis.RedisError as exc:
        return None, f"{settings.redis.url}: {exc}"
    finally:
        client.close()


def collect(settings: Settings, event_types: list[str], targets: Targets) -> StatusReport:
    sources: list[SourceRow] = []
    first = _scrape_all(targets.processor_urls, targets.timeout_s, None) if targets.interval_s > 0 else {}
    if first:
        time.sleep(targets.interval_s)
    latest = _scrape_all(targets.processor_urls, targets.timeout_s, sources)
    earlier = [first[url] for url in latest if url in first]
    # rates only when every answering endpoint was read twice: a partial pair would understate them
    if len(earlier) != len(latest):
        earlier = []
    review: Scrape | None = None
    if targets.review_url is not None:
        try:
            review = scrape(targets.review_url, targets.timeout_s)
            sources.append(SourceRow("review", targets.review_url, True))
        except SourceError as exc:
            sources.append(SourceRow("review", targets.review_url, False, str(exc)))
    switches, problem = _switches(settings, event_types, targets.timeout_s)
    sources.append(SourceRow("redis", settings.redis.url, problem is None, problem))
    return build(list(latest.values()), earlier, review, switches, sources=sources)
