"""Configuration: one frozen settings object, and the per-event-type pipeline file.

One module per area (kafka, redis, topics, models, processing, ingest, monitoring, review,
status, quarantine, schema_registry, outputs), the ``Settings`` object that holds them in
settings.py (the only reader of environment variables), the pipeline file's models in
pipelines.py. The public names are re-exported here: ``from processor.config import Settings``.
"""

from processor.config.base import PIPELINES_FILE_NAMES, PROJECT_ROOT
from processor.config.ingest import ROUTE_SOURCES, ClientScope, IngestSettings
from processor.config.kafka import KafkaSettings
from processor.config.models import ModelsSettings, TrainingSettings
from processor.config.monitoring import MetricsSettings, MonitoringSettings
from processor.config.outputs import OutputsSettings
from processor.config.pipelines import (
    Band,
    DecisionPolicy,
    EventTypeConfig,
    FallbackPolicy,
    FieldCheck,
    PipelinesConfig,
    ReviewBand,
    load_pipelines,
)
from processor.config.processing import ProcessingSettings
from processor.config.quarantine import QuarantineSettings
from processor.config.redis import RedisSettings
from processor.config.review import ReviewSettings
from processor.config.schema_registry import SchemaRegistrySettings
from processor.config.settings import Settings, load_settings, project_override, settings_to_env
from processor.config.status import StatusSettings
from processor.config.topics import TopicsSettings

__all__ = [
    "PIPELINES_FILE_NAMES",
    "PROJECT_ROOT",
    "ROUTE_SOURCES",
    "Band",
    "ClientScope",
    "DecisionPolicy",
    "EventTypeConfig",
    "FallbackPolicy",
    "FieldCheck",
    "IngestSettings",
    "KafkaSettings",
    "MetricsSettings",
    "ModelsSettings",
    "MonitoringSettings",
    "OutputsSettings",
    "PipelinesConfig",
    "ProcessingSettings",
    "QuarantineSettings",
    "RedisSettings",
    "ReviewBand",
    "ReviewSettings",
    "SchemaRegistrySettings",
    "Settings",
    "StatusSettings",
    "TopicsSettings",
    "TrainingSettings",
    "load_pipelines",
    "load_settings",
    "project_override",
    "settings_to_env",
]
