"""Content-addressed storage: one file per distinct content, written whole."""

from __future__ import annotations

import hashlib
from pathlib import Path

from processor.ingest.storage import DocumentStore


def test_put_is_content_addressed_and_idempotent(tmp_path: Path) -> None:
    store = DocumentStore(tmp_path / "uploads")
    data = b"%PDF-1.7 hello"
    digest = hashlib.sha256(data).hexdigest()
    uri = store.put(data, digest)
    assert uri == store.path_for(digest).resolve().as_uri()
    assert store.path_for(digest).read_bytes() == data
    assert store.path_for(digest).parent.name == digest[:2]
    assert store.put(data, digest) == uri
    assert [p.name for p in store.path_for(digest).parent.iterdir()] == [digest]  # no temporary files left
