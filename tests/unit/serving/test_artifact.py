"""Artifacts are written whole, checksummed per file, and refused when any byte changed."""

from __future__ import annotations

from pathlib import Path

import pytest

from processor.serving.artifact import (
    CHECKSUMS_FILE,
    METADATA_FILE,
    MODEL_FILE,
    ArtifactError,
    find_artifact,
    list_versions,
    save_artifact,
    verify_artifact,
)


def _save(root: Path, version: str = "20240101T000000Z-aaaaaaaa") -> Path:
    ref = save_artifact(
        root, "t", "tree\nversion=v4\n", {"version": version, "feature_names": ["a"]}, {"report.html": b"<html>"}
    )
    return ref.path


def test_every_file_is_checksummed_and_verifies(tmp_path: Path) -> None:
    path = _save(tmp_path)
    assert sorted(p.name for p in path.iterdir()) == sorted([MODEL_FILE, METADATA_FILE, CHECKSUMS_FILE, "report.html"])
    meta = verify_artifact(find_artifact(tmp_path, "t", path.name))
    assert meta["format"] == 2 and meta["event_type"] == "t" and set(meta["files"]) == {MODEL_FILE, "report.html"}
    assert not [p for p in (tmp_path / "t").iterdir() if p.name.startswith(".")]  # no temporary left behind


@pytest.mark.parametrize("victim", [MODEL_FILE, METADATA_FILE, "report.html"])
def test_a_changed_byte_is_refused(tmp_path: Path, victim: str) -> None:
    path = _save(tmp_path)
    data = bytearray((path / victim).read_bytes())
    data[len(data) // 2] ^= 0x01
    (path / victim).write_bytes(bytes(data))
    with pytest.raises(ArtifactError) as info:
        verify_artifact(find_artifact(tmp_path, "t", path.name))
    assert info.value.code in ("checksum_mismatch", "metadata_unreadable")
    assert victim in str(info.value) or info.value.code == "metadata_unreadable"


def test_missing_files_and_unknown_versions_are_refused(tmp_path: Path) -> None:
    path = _save(tmp_path)
    (path / CHECKSUMS_FILE).unlink()
    with pytest.raises(ArtifactError) as info:
        verify_artifact(find_artifact(tmp_path, "t", path.name))
    assert info.value.code == "checksums_missing"
    with pytest.raises(ArtifactError) as unknown:
        find_artifact(tmp_path, "t", "nope")
    assert unknown.value.code == "unknown_version" and path.name in str(unknown.value)
    with pytest.raises(ArtifactError):
        find_artifact(tmp_path, "t", "../t")


def test_versions_sort_by_creation_and_ignore_half_written_directories(tmp_path: Path) -> None:
    _save(tmp_path, "20240102T000000Z-bbbbbbbb")
    _save(tmp_path, "20240101T000000Z-aaaaaaaa")
    (tmp_path / "t" / ".20240103T000000Z-cccccccc.tmp-1").mkdir()  # a crashed writer's leftovers
    assert [r.version for r in list_versions(tmp_path, "t")] == [
        "20240101T000000Z-aaaaaaaa",
        "20240102T000000Z-bbbbbbbb",
    ]
    with pytest.raises(ArtifactError) as info:
        _save(tmp_path, "20240101T000000Z-aaaaaaaa")
    assert info.value.code == "artifact_exists"
