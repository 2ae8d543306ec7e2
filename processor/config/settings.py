"""The one settings object, and how it is loaded and handed to a child process.

Environment variables are read here and nowhere else: ``PROCESSOR_`` prefix, nested with ``__``
(``PROCESSOR_KAFKA__BOOTSTRAP_SERVERS``). A YAML config file may supply the same keys; the
environment wins over the file, the file over the defaults. Each section is a model of its own
area's module (processor/config/kafka.py, redis.py, ...).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar, Literal

import yaml
from pydantic import BaseModel, Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, YamlConfigSettingsSource

from processor.config.base import PIPELINES_FILE_NAMES, format_validation_error
from processor.config.ingest import IngestSettings
from processor.config.kafka import KafkaSettings
from processor.config.models import ModelsSettings, TrainingSettings
from processor.config.monitoring import MetricsSettings, MonitoringSettings
from processor.config.outputs import OutputsSettings
from processor.config.processing import ProcessingSettings
from processor.config.quarantine import QuarantineSettings
from processor.config.redis import RedisSettings
from processor.config.review import ReviewSettings
from processor.config.schema_registry import SchemaRegistrySettings
from processor.config.status import StatusSettings
from processor.config.topics import TopicsSettings
from processor.errors import ConfigError


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="PROCESSOR_",
        env_nested_delimiter="__",
        frozen=True,
        extra="forbid",
    )

    kafka: KafkaSettings = KafkaSettings()
    redis: RedisSettings = RedisSettings()
    topics: TopicsSettings = TopicsSettings()
    models: ModelsSettings = ModelsSettings()
    processing: ProcessingSettings = ProcessingSettings()
    training: TrainingSettings = TrainingSettings()
    metrics: MetricsSettings = MetricsSettings()
    ingest: IngestSettings = IngestSettings()
    monitoring: MonitoringSettings = MonitoringSettings()
    quarantine: QuarantineSettings = QuarantineSettings()
    review: ReviewSettings = ReviewSettings()
    status: StatusSettings = StatusSettings()
    schema_registry: SchemaRegistrySettings = SchemaRegistrySettings()
    outputs: OutputsSettings = OutputsSettings()
    #: The project a team owns: ``pipelines.yaml``, ``schemas/input/*.avsc``, ``features/*.py``,
    #: ``models/`` (``processor init`` writes one). ``--project DIR`` sets it; the current
    #: directory when unset. The paths below default to their place inside it.
    project_dir: Path = Field(default_factory=Path.cwd)
    #: Input Avro schemas: ``input/<event_type>.v<N>.avsc``; ``<project_dir>/schemas`` when unset.
    #: (The output schemas ship inside the package.)
    schemas_dir: Path = Path("schemas")
    #: Per-event-type pipeline configuration, validated at start-up; ``<project_dir>/pipelines.yaml``
    #: (or ``<project_dir>/config/pipelines.yaml``) when unset.
    pipelines_file: Path = Path("pipelines.yaml")
    #: Feature modules named by a bare name in the pipeline file: ``<name>.py`` in this folder;
    #: ``<project_dir>/features`` when unset.
    features_dir: Path = Path("features")
    #: DEBUG, INFO, WARNING, ERROR.
    log_level: str = "INFO"
    #: ``json``: one object per line (ts, level, logger, message, event_id, offset, model_version...),
    #: for log shippers; ``text``: for people; ``auto``: json for the services (``run``, ``ingest
    #: serve``, ``review serve``), text for the interactive commands. Payloads and secrets are never logged.
    log_format: Literal["auto", "json", "text"] = "auto"

    # Set by load_settings() before construction; a class attribute because pydantic-settings
    # builds its sources from the class. ClassVar, or pydantic makes it a private attribute whose
    # class-level value is a descriptor, not None, and a plain Settings() fails.
    _config_file: ClassVar[Path | None] = None

    @model_validator(mode="after")
    def _inside_the_project(self) -> Settings:
        # Relative paths are the project's: a default never points inside site-packages, and
        # the same settings work from any working directory. Frozen, so set through object.
        project = self.project_dir.expanduser().resolve()
        object.__setattr__(self, "project_dir", project)
        pipelines = self.pipelines_file
        if pipelines == Path("pipelines.yaml"):
            found = [project / name for name in PIPELINES_FILE_NAMES if (project / name).is_file()]
            pipelines = found[0] if found else project / pipelines
        object.__setattr__(self, "pipelines_file", project / pipelines)
        object.__setattr__(self, "schemas_dir", project / self.schemas_dir)
        object.__setattr__(self, "features_dir", project / self.features_dir)
        if not self.models.dir.is_absolute():
            object.__setattr__(self, "models", self.models.model_copy(update={"dir": project / self.models.dir}))
        if not self.ingest.upload_dir.is_absolute():
            upload_dir = project / self.ingest.upload_dir
            object.__setattr__(self, "ingest", self.ingest.model_copy(update={"upload_dir": upload_dir}))
        return self

    @model_validator(mode="after")
    def _registry_outputs_need_a_registry(self) -> Settings:
        if self.outputs.format == "avro-registry" and self.schema_registry.url is None:
            raise ValueError("outputs.format avro-registry needs schema_registry.url")
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = cls._config_file
        if config_file is not None:
            sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=config_file))
        return tuple(sources)


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Build the settings from overrides, the environment and an optional YAML file."""
    if config_file is not None and not config_file.is_file():
        raise ConfigError("config_file_missing", f"config file {config_file} does not exist")
    Settings._config_file = config_file
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError("invalid_settings", format_validation_error(exc)) from exc
    except (yaml.YAMLError, ValueError, TypeError) as exc:  # an unreadable or non-mapping YAML file
        raise ConfigError("invalid_settings", f"{config_file}: {exc}") from exc
    finally:
        Settings._config_file = None


def project_override(args: Any) -> dict[str, Any]:
    """``--project DIR`` of a command line as a settings override (it wins over the environment)."""
    project = getattr(args, "project", None)
    return {} if project is None else {"project_dir": project}


def _plain(value: Any) -> Any:
    """JSON for what json.dumps does not know: secrets (a reviewer's hash in a mapping), paths."""
    return value.get_secret_value() if isinstance(value, SecretStr) else str(value)


def settings_to_env(settings: Settings) -> dict[str, str]:
    """Every setting as the ``PROCESSOR_*`` variables that reproduce it in a child process.

    Nested models become ``__``-joined names, lists and mappings JSON, secrets their value (the
    environment of a child is as private as this process's memory); unset optionals are left out.
    """
    env: dict[str, str] = {}

    def put(name: str, value: Any) -> None:
        if value is None:
            return
        if isinstance(value, BaseModel):
            for field in type(value).model_fields:
                put(f"{name}__{field.upper()}", getattr(value, field))
        elif isinstance(value, SecretStr):
            env[name] = value.get_secret_value()
        elif isinstance(value, bool):
            env[name] = "true" if value else "false"
        elif isinstance(value, dict | list):
            env[name] = json.dumps(value, default=_plain)
        else:
            env[name] = str(value)

    for field in Settings.model_fields:
        put(f"PROCESSOR_{field.upper()}", getattr(settings, field))
    return env
