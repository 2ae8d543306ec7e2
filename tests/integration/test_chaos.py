"""The reduced chaos suite inside `make test` (the full one is `make chaos`)."""

from __future__ import annotations

from pathlib import Path

from chaos.harness import ChaosConfig, run_chaos


def test_reduced_chaos_keeps_the_accounting_identity(trained_models: Path, tmp_path: Path) -> None:
    result = run_chaos(
        ChaosConfig(
            processors=3,
            partitions=12,
            events=12_000,
            kills=4,
            redis_restarts=1,
            redis_pause_s=5.0,
            broker_restarts=1,
            seed=11,
            models_dir=trained_models,
            log_dir=tmp_path,
        )
    )
    print(result.line())
    assert result.report is not None
    assert result.produced == result.report.inputs == 12_000, result.problems()
    assert result.lost == 0 and result.duplicated == 0, result.report.problems()
    assert result.report.identity_holds, result.report.problems()
    assert result.report.order_holds, result.report.order_violations[:5]
    assert result.kills == 4 and result.broker_restarts == 1 and result.redis_restarts == 1
    assert result.ok, result.problems()
