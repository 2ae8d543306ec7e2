"""docs/configuration.md is generated from the settings model and must be current."""

from __future__ import annotations

from processor.config import Settings
from processor.settings_reference import REFERENCE_PATH, env_variables, render_reference


def test_the_checked_in_reference_is_current() -> None:
    assert REFERENCE_PATH.read_text(encoding="utf-8") == render_reference(), (
        "docs/configuration.md is stale: run `processor config reference --write`"
    )


def test_every_setting_has_a_row() -> None:
    names = env_variables()
    assert "PROCESSOR_KAFKA__SASL_PASSWORD" in names
    assert "PROCESSOR_REDIS__TLS_CA_FILE" in names
    assert "PROCESSOR_SCHEMAS_DIR" in names
    sections = [f for f, info in Settings.model_fields.items() if hasattr(info.annotation, "model_fields")]
    for section in sections:
        fields = Settings.model_fields[section].annotation.model_fields  # type: ignore[union-attr]
        for name in fields:
            assert f"PROCESSOR_{section.upper()}__{name.upper()}" in names
    text = render_reference()
    assert all(f"`{name}`" in text for name in names)
