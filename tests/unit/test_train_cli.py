"""`processor train` without the ``train`` extra: a clear message naming what to install."""

from __future__ import annotations

from pathlib import Path

import pytest

from processor import train_cli
from processor.cli import main


def test_the_training_libraries_are_installed_in_the_dev_environment() -> None:
    assert train_cli.missing_training_libraries() == []


def test_train_without_the_extra_says_what_to_install(
    clean_env: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # a library that is not installed stands for a serving-only install (pip install processor)
    clean_env.setitem(train_cli.TRAINING_LIBRARIES, "processor_no_such_module", "no-such-distribution")
    events = tmp_path / "events.jsonl"
    events.write_text("")
    code = main(["train", "--event-type", "user_signed_up", "--events", str(events)])
    err = capsys.readouterr().err
    assert code == 2
    assert "no-such-distribution" in err and "pip install 'processor[train]'" in err
    assert "scikit-learn" not in err  # only what is missing is named
