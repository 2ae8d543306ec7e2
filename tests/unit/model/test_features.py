"""processor.model.features: a team's feature module written against the contract's first import
path still loads and passes the contract check (docs/your-events.md)."""

from __future__ import annotations

import textwrap
from pathlib import Path

from processor.features import load_feature_module

OLD_PATH_MODULE = """
from processor.model.features import HistoryCounter

HISTORY = (HistoryCounter("seen_1h", "entity_id", 3_600_000),)
FEATURE_NAMES = ("amount", "seen_1h")


def compute(record, history):
    return [float(record["amount"]), float(history.get("seen_1h", 0))]
"""


def test_a_module_importing_the_old_path_loads_and_passes_the_contract_check(tmp_path: Path) -> None:
    folder = tmp_path / "features"
    folder.mkdir()
    (folder / "payment_authorized.py").write_text(textwrap.dedent(OLD_PATH_MODULE))
    # the check is isinstance(counter, HistoryCounter): it holds only if the old path re-exports
    # the very class processor.features defines, not a copy
    module = load_feature_module("payment_authorized", features_dir=folder)
    assert [c.name for c in module.HISTORY] == ["seen_1h"]
    assert module.compute({"amount": 3}, {"seen_1h": 2}) == [3.0, 2.0]
