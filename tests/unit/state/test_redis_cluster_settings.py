"""Settings that select the Redis Cluster client and the topics' replication guarantees."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from processor.config import RedisSettings, TopicsSettings


@pytest.mark.parametrize(
    ("url", "cluster", "tls"),
    [
        ("redis://localhost:6379/0", False, False),
        ("redis+cluster://10.0.0.5:7000", True, False),
        ("rediss+cluster://redis.internal:6380", True, True),
        ("rediss://redis.internal:6380/0", False, True),
    ],
)
def test_the_url_scheme_selects_the_client(url, cluster, tls):
    settings = RedisSettings(url=url)
    assert settings.uses_cluster is cluster
    assert settings.uses_tls is tls


def test_the_flag_selects_the_cluster_client_with_a_plain_url():
    assert RedisSettings(url="redis://10.0.0.5:7000", cluster=True).uses_cluster


def test_an_unknown_scheme_is_refused_with_the_ones_that_work():
    with pytest.raises(ValidationError, match=r"redis\+cluster://"):
        RedisSettings(url="cluster://10.0.0.5:7000")


def test_min_insync_replicas_cannot_exceed_the_replication_factor():
    assert TopicsSettings(replication_factor=3, min_insync_replicas=2).min_insync_replicas == 2
    with pytest.raises(ValidationError, match="no write could ever succeed"):
        TopicsSettings(replication_factor=1, min_insync_replicas=2)


def test_a_cluster_url_can_name_several_seed_nodes():
    settings = RedisSettings(url="rediss+cluster://a.internal:7000,b.internal:7001,[fd00::3]:7002")
    assert settings.seed_urls == (
        "rediss+cluster://a.internal:7000",
        "rediss+cluster://b.internal:7001",
        "rediss+cluster://[fd00::3]:7002",
    )
    assert settings.uses_cluster and settings.uses_tls


def test_one_host_is_one_seed_with_its_path_and_user():
    assert RedisSettings(url="redis://ops@localhost:6379/2").seed_urls == ("redis://ops@localhost:6379/2",)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("redis://a:6379,b:6379/0", "only a Redis Cluster takes a list"),
        ("redis+cluster://a:7000,b:70x0", "'b:70x0' in the URL is not host:port"),
        ("redis+cluster://a:7000,,b:7001", "names no host"),
    ],
)
def test_a_bad_seed_list_is_refused_with_what_is_wrong(url, message):
    with pytest.raises(ValidationError, match=message):
        RedisSettings(url=url)


def test_the_flag_accepts_a_seed_list_with_a_plain_scheme():
    assert len(RedisSettings(url="redis://a:7000,b:7000", cluster=True).seed_urls) == 2
