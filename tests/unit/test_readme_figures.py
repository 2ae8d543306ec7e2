"""README's model figures are the ones in the committed result file of ``make eval``.

A re-run that changes the figures rewrites docs/results/jira_eval.json; this test then fails until
README says the same.
"""

from __future__ import annotations

import json

from processor.config import PROJECT_ROOT

README = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
EVAL = json.loads((PROJECT_ROOT / "docs" / "results" / "jira_eval.json").read_text(encoding="utf-8"))
LABELS = {"lightgbm": "LightGBM", "logistic_regression": "logistic regression", "class_prior": "class prior"}


def _row(label: str) -> list[str]:
    return [line for line in README.splitlines() if line.startswith(f"| {label} ")]


def test_the_fold_table_matches_docs_results_jira_eval_json() -> None:
    for model, label in LABELS.items():
        rows = _row(label)
        assert rows, f"no README row for {label}"
        fold_row = rows[0]
        for metric, digits in (("roc_auc", 3), ("pr_auc", 3), ("log_loss", 4), ("brier", 4)):
            mean = EVAL["summary"][model][metric]["mean"]
            if model == "class_prior" and metric == "roc_auc":
                continue
            assert f"{mean:.{digits}f} ±" in fold_row, (model, metric, mean, fold_row)


def test_the_final_slice_matches_docs_results_jira_eval_json() -> None:
    final = EVAL["final_slice"]
    assert f"({final['rows']} tickets, {final['urgent']} urgent)" in README
    for model, label in LABELS.items():
        m = final["metrics"][model]
        cells = f"| {m['roc_auc']:.3f} | {m['pr_auc']:.3f} | {m['log_loss']:.4f} | {m['brier']:.4f} |"
        assert any(cells in line for line in README.splitlines() if line.startswith(f"| {label}")), (model, cells)


def test_the_served_kind_is_the_winner_and_readme_says_so() -> None:
    assert EVAL["served"]["model_kind"] == EVAL["winner"] == EVAL["served"]["pipelines_yaml_model"]
    assert f"`model: {EVAL['winner']}`" in README
