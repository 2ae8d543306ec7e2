"""Feature modules from anywhere importable, checked against the contract when they load."""

from __future__ import annotations

import sys
import textwrap
import uuid
from pathlib import Path

import pytest

from processor.errors import ConfigError
from processor.features import load_feature_module
from processor.features.base import ENTRY_POINT_GROUP

GOOD = """
from processor.features import HistoryCounter

HISTORY = (HistoryCounter("seen_1h", "entity_id", 3_600_000),)
FEATURE_NAMES = ("amount", "seen_1h")


def compute(record, history):
    return [float(record["amount"]), float(history.get("seen_1h", 0))]
"""


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.py"
    path.write_text(textwrap.dedent(text))
    return path


def test_a_module_in_the_projects_features_folder(tmp_path):
    write(tmp_path / "features", "payment_authorized", GOOD)
    module = load_feature_module("payment_authorized", features_dir=tmp_path / "features")
    assert module.FEATURE_NAMES == ("amount", "seen_1h")
    assert module.compute({"amount": 3}, {"seen_1h": 2}) == [3.0, 2.0]


def test_project_modules_may_import_each_other_relatively(tmp_path):
    write(tmp_path / "features", "helpers", "SCALE = 10.0\n")
    write(
        tmp_path / "features",
        "scaled",
        GOOD.replace("from processor", "from .helpers import SCALE\nfrom processor").replace(
            'float(record["amount"])', 'float(record["amount"]) * SCALE'
        ),
    )
    module = load_feature_module("scaled", features_dir=tmp_path / "features")
    assert module.compute({"amount": 3}, {}) == [30.0, 0.0]


def test_a_dotted_path_anywhere_on_sys_path(tmp_path, monkeypatch):
    package = f"payments_{uuid.uuid4().hex[:8]}"
    (tmp_path / package).mkdir()
    (tmp_path / package / "__init__.py").write_text("")
    write(tmp_path / package, "features", GOOD)
    monkeypatch.syspath_prepend(str(tmp_path))
    module = load_feature_module(f"{package}.features", features_dir=tmp_path / "nowhere")
    assert module.compute({"amount": 1}, {}) == [1.0, 0.0]


def test_an_entry_point_of_an_installed_distribution(tmp_path, monkeypatch):
    package = f"ep_{uuid.uuid4().hex[:8]}"
    write(tmp_path, package, GOOD)
    dist = tmp_path / f"{package}-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {package}\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\nrefunds = {package}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    module = load_feature_module("refunds", features_dir=tmp_path / "features")
    assert module.FEATURE_NAMES == ("amount", "seen_1h")


def test_the_example_projects_modules_still_load_by_name():
    module = load_feature_module("user_signed_up")
    assert "email_verified" in module.FEATURE_NAMES
    assert getattr(module, "__name__", None) == "processor.features.user_signed_up"  # the built-ins' place


def test_an_unknown_module_lists_every_place_tried(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_feature_module("nope_type", features_dir=tmp_path / "features")
    assert info.value.code == "unknown_feature_module"
    for place in (str(tmp_path / "features" / "nope_type.py"), ENTRY_POINT_GROUP, "processor.features.nope_type"):
        assert place in info.value.message
    with pytest.raises(ConfigError, match=r"module payments_missing\.features"):
        load_feature_module("payments_missing.features")


BROKEN = {
    "no FEATURE_NAMES": (GOOD.replace('FEATURE_NAMES = ("amount", "seen_1h")', ""), "lacks FEATURE_NAMES"),
    "no compute": (GOOD.split("def compute")[0], "lacks compute"),
    "compute signature": (GOOD.replace("def compute(record, history)", "def compute(record)"), "must take"),
    "duplicate names": (GOOD.replace('("amount", "seen_1h")', '("amount", "amount", "seen_1h")'), "repeats"),
    "counter not a feature": (GOOD.replace('("amount", "seen_1h")', '("amount",)'), "not in FEATURE_NAMES"),
    "key the schema lacks": (GOOD.replace('"entity_id"', '"card_hash"'), "keyed by field 'card_hash'"),
    "import fails": (GOOD + "\nraise RuntimeError('no config')\n", "RuntimeError: no config"),
    "HISTORY of tuples": (GOOD.replace('HistoryCounter("seen_1h"', '("seen_1h"'), "HistoryCounter"),
    "compute_batch not callable": (GOOD + "\ncompute_batch = 3\n", "compute_batch must be a function"),
    "compute_batch signature": (
        GOOD + "\ndef compute_batch(records):\n    return []\n",
        "must take (records, history)",
    ),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_a_module_that_breaks_the_contract_names_its_path_and_the_rule(tmp_path, case):
    text, rule = BROKEN[case]
    name = f"mod_{uuid.uuid4().hex[:8]}"
    path = write(tmp_path / "features", name, text)
    with pytest.raises(ConfigError) as info:
        load_feature_module(name, features_dir=tmp_path / "features", schema_fields={"entity_id", "amount"})
    assert info.value.code == "invalid_feature_module"
    assert str(path) in info.value.message
    assert rule in info.value.message


def test_projects_in_different_folders_do_not_share_modules(tmp_path):
    write(tmp_path / "a" / "features", "same", GOOD)
    write(tmp_path / "b" / "features", "same", GOOD.replace('("amount", "seen_1h")', '("seen_1h", "amount")'))
    a = load_feature_module("same", features_dir=tmp_path / "a" / "features")
    b = load_feature_module("same", features_dir=tmp_path / "b" / "features")
    assert a.FEATURE_NAMES != b.FEATURE_NAMES
    assert sys.modules  # both stay importable for the life of the process
