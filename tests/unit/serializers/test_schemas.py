"""SchemaStore and CRC-64-AVRO fingerprints."""

from __future__ import annotations

import json
import shutil
import struct
from pathlib import Path

import pytest
from fastavro.schema import fingerprint as fastavro_fingerprint
from fastavro.schema import to_parsing_canonical_form

from processor.config import PROJECT_ROOT
from processor.errors import ConfigError
from processor.serializers.avro import encode_single_object
from processor.serializers.schemas import SchemaStore, crc64_avro, fingerprint

INPUT_FILES = sorted((PROJECT_ROOT / "schemas" / "input").glob("*.avsc"))
OUTPUT_FILES = sorted((PROJECT_ROOT / "processor" / "schemas" / "output").glob("*.avsc"))


def test_avro_spec_test_vector_for_null():
    # Avro spec "Schema Fingerprints": CRC-64-AVRO of the canonical form "null" (share/test/data/schema-tests.txt)
    assert crc64_avro(b'"null"') == 0x63DD24E7CC258F8A
    assert crc64_avro(b'"null"') == 7195948357588979594
    assert fingerprint("null") == struct.pack("<Q", 0x63DD24E7CC258F8A)  # type: ignore[arg-type]


def test_crc64_of_nothing_is_the_empty_value():
    assert crc64_avro(b"") == 0xC15D213AA4D7A795


@pytest.mark.parametrize(
    "schema",
    [
        "null",
        "int",
        "string",
        {"type": "fixed", "name": "F", "size": 16},
        {"type": "enum", "name": "E", "symbols": ["A", "B"]},
        {"type": "array", "items": "long"},
        {"type": "map", "values": ["null", "double"]},
        {"type": "record", "name": "R", "namespace": "x.y", "doc": "ignored", "fields": [{"name": "a", "type": "int"}]},
    ],
)
def test_fingerprint_matches_fastavro_for_small_schemas(schema):
    expected = fastavro_fingerprint(to_parsing_canonical_form(schema), "CRC-64-AVRO")
    assert fingerprint(schema).hex() == expected  # type: ignore[arg-type]


@pytest.mark.parametrize("path", INPUT_FILES + OUTPUT_FILES, ids=lambda p: p.name)
def test_fingerprint_matches_fastavro_for_every_shipped_schema(path: Path):
    schema = json.loads(path.read_text())
    got = fingerprint(schema)
    assert len(got) == 8
    assert got.hex() == fastavro_fingerprint(to_parsing_canonical_form(schema), "CRC-64-AVRO")


def test_store_indexes_every_input_schema(schema_store):
    assert schema_store.names() == ["document_uploaded", "jira_ticket_created", "user_signed_up"]
    assert sorted(schema_store.outputs) == ["feedback", "quarantine", "review", "scored", "shadow"]
    for path in INPUT_FILES:
        name, version = path.name.removesuffix(".avsc").split(".v")
        entry = schema_store.get(name, int(version))
        assert entry is not None
        assert (entry.name, entry.version) == (name, int(version))
        assert schema_store.by_fingerprint(entry.fingerprint) is entry
        assert entry.fields == {f["name"]: f for f in json.loads(path.read_text())["fields"]}


def test_fingerprints_are_distinct(schema_store):
    entries = [schema_store.get(n, v) for n, v in [("user_signed_up", 1), ("user_signed_up", 2)]]
    assert entries[0] is not None and entries[1] is not None
    assert entries[0].fingerprint != entries[1].fingerprint


def test_versions(schema_store):
    assert schema_store.latest("user_signed_up").version == 2
    assert schema_store.get("user_signed_up", None) is schema_store.latest("user_signed_up")
    assert schema_store.get("user_signed_up", 3) is None
    assert schema_store.get("nope", None) is None
    assert schema_store.has("jira_ticket_created") and not schema_store.has("nope")
    assert schema_store.by_fingerprint(b"\x00" * 8) is None


def test_single_object_encoding_header(schema_store):
    entry = schema_store.latest("document_uploaded")
    record = {
        "event_id": "d",
        "event_type": "document_uploaded",
        "occurred_at": 1,
        "entity_id": "d",
        "document_id": "d",
        "uploader_id": "u",
        "file_name": "f",
        "mime_type": "m",
        "size_bytes": 1,
        "sha256": "a" * 64,
        "upload_status": "ok",
    }
    value = encode_single_object(entry, record)
    assert value[:2] == b"\xc3\x01"
    assert value[2:10] == entry.fingerprint


def copy_schemas(tmp_path: Path) -> Path:
    root = tmp_path / "schemas"
    shutil.copytree(PROJECT_ROOT / "schemas", root)
    return root


@pytest.mark.parametrize(
    "name",
    [
        "UserSignedUp.v1.avsc",
        "user_signed_up.avsc",
        "user_signed_up.v.avsc",
        "user_signed_up.vx.avsc",
        "user_signed_up.v1.v2.avsc",
        "1user.v1.avsc",
        "user-signed-up.v1.avsc",
    ],
)
def test_bad_input_file_names(tmp_path, name):
    root = copy_schemas(tmp_path)
    shutil.copy(root / "input" / "user_signed_up.v1.avsc", root / "input" / name)
    with pytest.raises(ConfigError) as info:
        SchemaStore(root)
    assert info.value.code == "schema_file_name"
    assert name in info.value.message


def test_missing_input_folder(tmp_path):
    with pytest.raises(ConfigError) as info:
        SchemaStore(tmp_path)
    assert info.value.code == "schemas_missing"


def assert_schema_invalid(tmp_path: Path, text: str) -> None:
    root = copy_schemas(tmp_path)
    (root / "input" / "broken.v1.avsc").write_text(text)
    with pytest.raises(ConfigError) as info:
        SchemaStore(root)
    assert info.value.code == "schema_invalid"
    assert "broken.v1.avsc" in info.value.message


@pytest.mark.parametrize(
    "text", ["{not json", "", '{"type": "nonsense"}', '{"type": "record", "name": "X", "fields": [{"name": "a"}]}']
)
def test_invalid_schema_file(tmp_path, text):
    assert_schema_invalid(tmp_path, text)


@pytest.mark.parametrize(
    "text",
    ['{"type": "record", "name": "X"}', '"string"', '{"type": "array", "items": "int"}'],
    ids=["no-fields", "primitive", "array"],
)
def test_input_schema_that_is_not_a_record(tmp_path, text):
    assert_schema_invalid(tmp_path, text)


def test_output_schemas_come_from_the_package_not_the_project(tmp_path):
    # a project holds only its input schemas: the outputs are the processor's own contract
    root = tmp_path / "schemas"
    (root / "input").mkdir(parents=True)
    shutil.copy(PROJECT_ROOT / "schemas" / "input" / "user_signed_up.v2.avsc", root / "input")
    store = SchemaStore(root)
    assert sorted(store.outputs) == sorted(p.stem for p in OUTPUT_FILES)
    assert sorted(store.outputs) == ["feedback", "quarantine", "review", "scored", "shadow"]
