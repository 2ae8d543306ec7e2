"""Done-when of the monitoring issue: a real Prometheus (Debian's package, on loopback) scrapes a
running processor; drift injected with the simulator turns the drift alert active, as Prometheus'
own HTTP API reports it.

The rules are the shipped ``deploy/prometheus/alerts.yml`` with only their ``for:`` durations cut
to seconds (the expressions are untouched), and the processor's drift window is shortened the same
way through its settings, so the test takes a minute instead of a quarter of an hour.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from helpers.kafka import settings_env, wait_for
from helpers.net import free_port
from helpers.processes import stop
from processor.config import PROJECT_ROOT, Settings
from processor.devtools.simulate import run_simulate

EVENT_TYPE = "user_signed_up"
DRIFT_ALERTS = ("ProcessorFeatureDrift", "ProcessorScoreDrift")


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


class _Prometheus:
    def __init__(self, url: str) -> None:
        self.url = url

    def query(self, promql: str) -> list[dict[str, Any]]:
        data = _get(f"{self.url}/api/v1/query?" + urllib.parse.urlencode({"query": promql}))
        result: list[dict[str, Any]] = data["data"]["result"]
        return result

    def alerts(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = _get(f"{self.url}/api/v1/alerts")["data"]["alerts"]
        return result

    def value(self, promql: str) -> float | None:
        result = self.query(promql)
        return float(result[0]["value"][1]) if result else None


@pytest.fixture(scope="module")
def prometheus_binary() -> str:
    subprocess.run(["bash", str(PROJECT_ROOT / "deploy/local/ensure-prometheus.sh")], check=True)
    return "prometheus"


@pytest.fixture
def prometheus_factory(prometheus_binary: str, tmp_path: Path) -> Iterator[Callable[[int], _Prometheus]]:
    started: list[subprocess.Popen[bytes]] = []

    def start(target_port: int) -> _Prometheus:
        rules = yaml.safe_load((PROJECT_ROOT / "deploy/prometheus/alerts.yml").read_text())
        for group in rules["groups"]:
            group["interval"] = "1s"
            for rule in group["rules"]:
                if "for" in rule:
                    rule["for"] = "3s"
        (tmp_path / "alerts.yml").write_text(yaml.safe_dump(rules))
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(tmp_path / "alerts.yml")],
            "scrape_configs": [
                {"job_name": "processor", "static_configs": [{"targets": [f"127.0.0.1:{target_port}"]}]}
            ],
        }
        (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
        port = free_port()
        log = open(tmp_path / "prometheus.log", "ab")  # noqa: SIM115
        proc = subprocess.Popen(
            [
                prometheus_binary,
                f"--config.file={tmp_path / 'prometheus.yml'}",
                f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--log.level=warn",
            ],
            stdout=log,
            stderr=log,
        )
        started.append(proc)
        prom = _Prometheus(f"http://127.0.0.1:{port}")

        def ready() -> bool:
            try:
                with urllib.request.urlopen(f"{prom.url}/-/ready", timeout=2) as r:
                    return bool(r.status == 200)
            except OSError:
                return False

        assert wait_for(ready, 30), (tmp_path / "prometheus.log").read_text()[-2000:]
        return prom

    yield start
    for proc in started:
        stop(proc, grace_s=10)


@pytest.fixture
def monitored_processor(tmp_path: Path) -> Iterator[Callable[[Settings, int], subprocess.Popen[bytes]]]:
    """`processor run` with its metrics endpoint on a loopback port and a short drift window."""
    started: list[subprocess.Popen[bytes]] = []

    def start(settings: Settings, metrics_port: int) -> subprocess.Popen[bytes]:
        env = settings_env(settings)
        env.update(
            {
                "PROCESSOR_METRICS__ENABLED": "true",
                "PROCESSOR_METRICS__HOST": "127.0.0.1",
                "PROCESSOR_METRICS__PORT": str(metrics_port),
                "PROCESSOR_MONITORING__DRIFT_WINDOW_S": "300",
                "PROCESSOR_MONITORING__WINDOW_SLOTS": "30",
                "PROCESSOR_MONITORING__MIN_WINDOW_EVENTS": "500",
                "PROCESSOR_MONITORING__EVALUATE_INTERVAL_S": "1",
            }
        )
        log = open(tmp_path / "processor.log", "ab")  # noqa: SIM115
        proc = subprocess.Popen([sys.executable, "-m", "processor", "run"], env=env, stdout=log, stderr=log)
        started.append(proc)
        return proc

    yield start
    for proc in started:
        stop(proc)


def _drift_alerts(prom: _Prometheus, state: str | None = None) -> list[dict[str, Any]]:
    return [
        a
        for a in prom.alerts()
        if a["labels"]["alertname"] in DRIFT_ALERTS
        and a["labels"].get("event_type") == EVENT_TYPE
        and (state is None or a["state"] == state)
    ]


@pytest.fixture(scope="module")
def two_day_models(trained_models: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The session's models, with the sign-up model retrained on two days of history at the same
    daily volume as the traffic below. The drift reference is the training split (the older 80%):
    over two days it holds every hour of the day, as production history (months) does; over one
    day it would miss the newest hours, and a day of normal traffic would drift on hour_of_day."""
    from processor.config import load_pipelines, load_settings
    from processor.devtools.simulate import FaultMix, simulate, write_jsonl
    from processor.training.training import Guards, train_model

    root = tmp_path_factory.mktemp("two-day-models")
    shutil.copytree(trained_models, root, dirs_exist_ok=True)
    shutil.rmtree(root / EVENT_TYPE)
    settings = load_settings(models={"dir": str(root)})
    path = root / f"{EVENT_TYPE}.two-days.jsonl"
    write_jsonl(path, simulate(6_000, seed=6, types=(EVENT_TYPE,), faults=FaultMix.none(), span_s=2 * 86_400.0))
    train_model(
        event_type=EVENT_TYPE,
        events_path=path,
        labels_path=path.with_name(f"{EVENT_TYPE}.two-days.labels.jsonl"),
        settings=settings,
        pipelines=load_pipelines(settings.pipelines_file),
        guards=Guards(allow_stale=True, allow_shift=True),  # hour_of_day: the newest hours are validation
    )
    return root


def _simulate(settings: Settings, seed: int, drift: str | None = None) -> None:
    # the sign-up model was trained on 3,000 sign-ups a day: send a day's worth, so the hour-of-day
    # and per-hour history features look like training unless drift is injected on purpose
    summary = run_simulate(
        settings,
        count=3_000,
        seed=seed,
        faults_spec="none",
        out=None,
        topic=None,
        types=(EVENT_TYPE,),
        span_s=86_400.0,
        drift=drift,
    )
    assert summary.ok and summary.delivered == 3_000, summary


def test_injected_drift_fires_the_drift_alert_in_prometheus(
    topic_factory: Callable[..., Settings],
    two_day_models: Path,
    monitored_processor: Callable[[Settings, int], subprocess.Popen[bytes]],
    prometheus_factory: Callable[[int], _Prometheus],
    tmp_path: Path,
) -> None:
    # One input partition: events reach the history counters in event-time order, as in training.
    # (With several partitions a day of events produced in seconds is a backfill whose partitions
    # run hours apart in event time, and the per-hour history counters see a different world.)
    # Small batches keep the drift window's slots filling as they would under live traffic.
    settings = topic_factory(models_dir=two_day_models, raw_partitions=1, processing={"batch_size": 50})
    metrics_port = free_port()
    proc = monitored_processor(settings, metrics_port)
    prom = prometheus_factory(metrics_port)
    assert wait_for(lambda: prom.value('up{job="processor"}') == 1.0, 60), "Prometheus never scraped the processor"

    # normal traffic: scored, measured, and no drift alert
    _simulate(settings, seed=11)
    events = f'processor_drift_window_events{{event_type="{EVENT_TYPE}"}}'
    assert wait_for(lambda: (prom.value(events) or 0) >= 2_900, 120, 1.0), (tmp_path / "processor.log").read_text()[
        -3000:
    ]
    time.sleep(6)  # several evaluations past the alerts' `for:`
    normal_psi = prom.query(f'processor_feature_psi{{event_type="{EVENT_TYPE}"}}')
    assert _drift_alerts(prom) == [], (_drift_alerts(prom), normal_psi)
    assert prom.value(f'processor_score_psi{{event_type="{EVENT_TYPE}"}}') is not None
    # the rest of the operator's view is scraped too: dependencies, lag, silent-failure verdicts
    assert prom.value('min(processor_dependency_up{dependency=~"redis|kafka"})') == 1.0
    assert prom.value('sum(processor_consumer_lag_messages{partition="0"})') is not None
    assert prom.value(f'max(processor_silent_failure{{event_type="{EVENT_TYPE}"}})') == 0.0

    # the same stream shape, with drift injected: shifted numbers, new categories, null bursts
    _simulate(settings, seed=12, drift="shift=3,new_categories=0.6,nulls=0.5")

    def firing() -> bool:
        return bool(_drift_alerts(prom, "firing"))

    assert wait_for(firing, 120, 1.0), (prom.alerts(), (tmp_path / "processor.log").read_text()[-3000:])
    alert = _drift_alerts(prom, "firing")[0]
    assert alert["labels"]["team"] in ("data-pipelines", "ml-models")
    assert alert["annotations"]["runbook_url"].startswith("docs/runbooks/")
    drifted = {r["metric"]["feature"] for r in prom.query(f'processor_feature_psi{{event_type="{EVENT_TYPE}"}} > 0.25')}
    assert {"age_years", "device_type_code", "marketing_source_code"} <= drifted, drifted
    assert proc.poll() is None  # the processor kept running all along
