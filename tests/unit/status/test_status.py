"""``processor status`` from metrics pages the real factories produce (and hand-written ones for
what does not exist yet: a shadow model), with every source failing in its own way."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from helpers.net import free_port
from processor import cli
from processor.decide.killswitch import SwitchState
from processor.monitoring.http import Health, serve
from processor.monitoring.metrics import Metrics
from processor.review.metrics import ReviewMetrics
from processor.review.store import QueueStats
from processor.status.report import SourceRow, StatusReport, build, render
from processor.status.scrape import Scrape, SourceError, parse, scrape

TYPES = ("user_signed_up", "document_uploaded")


def _processor_page(inputs: int, quarantined: int, *, lag: dict[int, int] | None = None) -> tuple[Metrics, str]:
    m = Metrics.create(CollectorRegistry())
    m.healthy.set(1)
    m.dependency_up.labels("redis").set(1)
    m.dependency_up.labels("kafka").set(1)
    m.input_messages.labels("events.raw").inc(inputs)
    m.outcomes.labels("user_signed_up", "scored").inc(inputs - quarantined)
    m.outcomes.labels("unknown", "quarantined").inc(quarantined)
    m.quarantined.labels("decode", "invalid_json").inc(quarantined - quarantined // 4)
    m.quarantined.labels("schema", "missing_field").inc(quarantined // 4)
    m.decisions.labels("user_signed_up", "model", "scored").inc(90)
    m.decisions.labels("user_signed_up", "fallback", "review").inc(10)
    for partition, behind in (lag or {0: 5, 1: 1200}).items():
        m.consumer_lag.labels(str(partition)).set(behind)
    m.reorder_buffered.labels("0").set(7)
    m.model_info.labels("user_signed_up", "20250601-a1b2").set(1)
    m.model_info.labels("document_uploaded", "20250501-ffff").set(1)
    q = m.quality
    q.feature_psi.labels("user_signed_up", "age_years").set(0.9)
    q.feature_psi.labels("user_signed_up", "plan").set(0.05)
    q.feature_psi.labels("user_signed_up", "signup_duration_ms").set(0.31)
    q.feature_psi.labels("document_uploaded", "size_bytes").set(float("nan"))  # window too small
    q.feature_js_distance.labels("user_signed_up", "age_years").set(0.4)
    q.score_psi.labels("user_signed_up").set(0.12)
    q.silent_failure.labels("user_signed_up", "score_collapsed").set(0)
    q.silent_failure.labels("document_uploaded", "volume_stopped").set(1)
    m.killswitch.labels("global", "off").set(0)
    m.killswitch.labels("global", "review").set(1)
    return m, generate_latest(m.registry).decode()


def _review_page() -> str:
    metrics = ReviewMetrics.create(CollectorRegistry(), TYPES)
    now_ms = 10_000_000
    stats = QueueStats(
        depth={"user_signed_up": 12},
        oldest_at={"user_signed_up": now_ms - 5 * 3600 * 1000},
        overdue={"user_signed_up": 3},
        overdue_items=[],
    )
    metrics.set_queue(stats, now_ms)
    return generate_latest(metrics.registry).decode()


def _report(**kwargs: object) -> StatusReport:
    _, before = _processor_page(1_000, 100)
    _, after = _processor_page(3_000, 180)
    defaults: dict[str, object] = {
        "processors": [parse("p1", after, 12.0)],
        "earlier": [parse("p1", before, 10.0)],
        "review": parse("r", _review_page(), 12.0),
        "switches": [
            SwitchState("off", scope="global"),
            SwitchState("fallback", "drift INC-1", "2025-06-01T10:00:00+00:00", "bob", "user_signed_up"),
        ],
        "sources": [SourceRow("processor", "p1", True)],
    }
    defaults.update(kwargs)
    return build(**defaults)  # type: ignore[arg-type]


def test_throughput_and_quarantine_rates_come_from_two_scrapes() -> None:
    report = _report()
    assert report.throughput.inputs_total == 3_000
    assert report.throughput.inputs_per_s == pytest.approx(1_000.0)  # 2,000 more in 2 s
    assert report.throughput.outcomes_per_s["quarantined"] == pytest.approx(40.0)
    assert report.throughput.fallback_share == pytest.approx(0.1)
    top = report.quarantine[0]
    assert (top.stage, top.error_code, top.total) == ("decode", "invalid_json", 135)
    assert top.per_s == pytest.approx((135 - 75) / 2)


def test_one_scrape_gives_totals_and_no_rates() -> None:
    report = _report(earlier=[])
    assert report.throughput.inputs_total == 3_000
    assert report.throughput.inputs_per_s is None
    assert report.quarantine[0].per_s is None
    assert "rate: --interval > 0" in render(report)


def test_lag_models_drift_and_silent_failures() -> None:
    report = _report()
    assert report.lag_total == 1_205
    assert report.lag_by_partition == {"0": 5, "1": 1_200}
    assert report.reorder_buffered == 7
    assert {m.event_type: m.active for m in report.models} == {
        "document_uploaded": ["20250501-ffff"],
        "user_signed_up": ["20250601-a1b2"],
    }
    assert all(m.shadow == [] for m in report.models)
    # sorted by PSI, NaN (too few events) left out
    assert [(d.feature, d.psi) for d in report.top_drift] == [
        ("age_years", 0.9),
        ("signup_duration_ms", 0.31),
        ("plan", 0.05),
    ]
    assert report.top_drift[0].js_distance == 0.4
    assert report.silent_failures == ["document_uploaded: volume_stopped"]


def test_a_shadow_model_is_shown_when_a_metric_reports_it() -> None:
    _, page = _processor_page(10, 1)
    page += (
        "# HELP processor_model_shadow_info Shadow model per event type.\n"
        "# TYPE processor_model_shadow_info gauge\n"
        'processor_model_shadow_info{event_type="user_signed_up",version="20250615-cand"} 1.0\n'
    )
    report = _report(processors=[parse("p1", page, 1.0)], earlier=[])
    [row] = [m for m in report.models if m.event_type == "user_signed_up"]
    assert row.active == ["20250601-a1b2"] and row.shadow == ["20250615-cand"]
    assert "20250615-cand" in render(report)


def test_several_processors_are_summed() -> None:
    _, a = _processor_page(1_000, 10, lag={0: 100, 1: 0})
    _, b = _processor_page(2_000, 20, lag={2: 50})
    report = _report(processors=[parse("a", a, 1.0), parse("b", b, 1.0)], earlier=[])
    assert report.processors_up == 2
    assert report.throughput.inputs_total == 3_000
    assert report.lag_by_partition == {"0": 100, "1": 0, "2": 50}
    assert report.dependencies == {"kafka": True, "redis": True}


def test_review_backlog_from_the_review_apps_metrics() -> None:
    report = _report()
    assert report.review is not None
    rows = {r.event_type: r for r in report.review}
    assert rows["user_signed_up"].depth == 12
    assert rows["user_signed_up"].oldest_age_s == pytest.approx(5 * 3600)
    assert rows["user_signed_up"].overdue == 3
    assert rows["document_uploaded"].depth == 0
    assert "5.0 h" in render(report)


def test_kill_switch_from_redis_with_its_reason_or_from_the_metrics_when_redis_is_down() -> None:
    text = render(_report())
    assert "user_signed_up           fallback   since 2025-06-01T10:00:00+00:00 by bob: drift INC-1" in text
    report = _report(switches=None)
    assert [(r.scope, r.mode, r.source) for r in report.killswitch] == [("global", "review", "metrics")]
    assert "Redis unreachable" in render(report)


def test_the_screen_and_the_json_have_every_section() -> None:
    report = _report()
    text = render(report)
    for heading in (
        "processors",
        "throughput",
        "outcomes",
        "lag",
        "kill switch",
        "models",
        "drift",
        "quarantine",
        "review",
    ):
        assert heading in text
    assert "age_years" in text and "<- drifting" in text
    data = json.loads(json.dumps(report.to_json(), allow_nan=False))
    assert data["throughput"]["inputs_per_s"] == pytest.approx(1_000.0)
    assert data["problems"] == []


def test_without_processors_the_rest_still_shows() -> None:
    report = _report(
        processors=[], earlier=[], sources=[SourceRow("processor", "http://x:9108/metrics", False, "refused")]
    )
    text = render(report)
    assert "none answered" in text and "review" in text and "UNREACHABLE  processor: refused" in text
    assert json.dumps(report.to_json(), allow_nan=False)


# -- sources ---------------------------------------------------------------------------------------


@pytest.fixture
def http_server() -> Iterator[Callable[[int, bytes], str]]:
    """``start(status, body)``: a local HTTP server answering every GET that way; returns its URL."""
    servers: list[ThreadingHTTPServer] = []

    def start(status: int, body: bytes) -> str:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_: object) -> None:
                return

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/metrics"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def test_unreachable_wrong_and_broken_endpoints_each_get_a_clear_message(
    http_server: Callable[[int, bytes], str],
) -> None:
    closed = f"http://127.0.0.1:{free_port()}/metrics"
    with pytest.raises(SourceError, match="connection refused"):
        scrape(closed, 1.0)
    with pytest.raises(SourceError, match="HTTP 404"):
        scrape(http_server(404, b"not here"), 1.0)
    with pytest.raises(SourceError, match=r"no metrics at all|Prometheus text format"):
        scrape(http_server(200, b"<html><body>Grafana</body></html>"), 1.0)
    with pytest.raises(SourceError, match="unknown host"):
        scrape("http://no-such-host.invalid:9108/metrics", 2.0)


def test_a_real_metrics_endpoint_is_read() -> None:
    metrics, _ = _processor_page(42, 2)
    server = serve(metrics.registry, Health(), "127.0.0.1", 0)
    try:
        result: Scrape = scrape(f"http://127.0.0.1:{server.server_address[1]}/metrics", 2.0)
    finally:
        server.shutdown()
        server.server_close()
    assert result.total("processor_input_messages_total") == 42


def test_the_command_reports_every_unreachable_source_without_a_traceback(
    clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    metrics, _ = _processor_page(500, 50)
    server = serve(metrics.registry, Health(), "127.0.0.1", 0)
    dead_redis, dead_review = free_port(), free_port()
    clean_env.setenv("PROCESSOR_REDIS__URL", f"redis://127.0.0.1:{dead_redis}/0")
    try:
        code = cli.main(
            [
                "status",
                "--processor-url",
                f"http://127.0.0.1:{server.server_address[1]}/metrics",
                "--review-url",
                f"http://127.0.0.1:{dead_review}/metrics",
                "--interval",
                "0",
                "--json",
            ]
        )
    finally:
        server.shutdown()
        server.server_close()
    out, err = capsys.readouterr()
    assert code == 1
    assert "Traceback" not in out + err
    data = json.loads(out)
    assert data["throughput"]["inputs_total"] == 500
    problems = " | ".join(data["problems"])
    assert f"review: http://127.0.0.1:{dead_review}/metrics: connection refused" in problems
    assert f"redis: redis://127.0.0.1:{dead_redis}/0: cannot connect" in problems
    assert data["killswitch"][0]["source"] == "metrics"
