"""Settings (environment + YAML file, frozen, secrets hidden) and the pipeline file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pydantic
import pytest
import yaml

from processor.config import PROJECT_ROOT, Settings, load_pipelines, load_settings, settings_to_env
from processor.errors import ConfigError

ENV = {
    "PROCESSOR_KAFKA__BOOTSTRAP_SERVERS": ("kafka-1:9093,kafka-2:9093", lambda s: s.kafka.bootstrap_servers),
    "PROCESSOR_KAFKA__GROUP_ID": ("scoring-eu", lambda s: s.kafka.group_id),
    "PROCESSOR_REDIS__URL": ("redis://cache:6380/2", lambda s: s.redis.url),
    "PROCESSOR_REDIS__KEY_PREFIX": ("eu:", lambda s: s.redis.key_prefix),
    "PROCESSOR_TOPICS__RAW": ("in.raw", lambda s: s.topics.raw),
    "PROCESSOR_TOPICS__SCORED": ("out.scored", lambda s: s.topics.scored),
    "PROCESSOR_TOPICS__REVIEW": ("out.review", lambda s: s.topics.review),
    "PROCESSOR_TOPICS__QUARANTINE": ("out.quarantine", lambda s: s.topics.quarantine),
    "PROCESSOR_TOPICS__FEEDBACK": ("out.feedback", lambda s: s.topics.feedback),
}


def write_yaml(path: Path, data: Any) -> Path:
    path.write_text(yaml.safe_dump(data))
    return path


def test_defaults(clean_env):
    s = load_settings()
    assert s.kafka.bootstrap_servers == "localhost:9092"
    assert s.topics.raw == "events.raw" and s.topics.quarantine == "events.quarantine"
    assert s.redis.key_prefix == "proc:"
    assert s.schemas_dir == PROJECT_ROOT / "schemas"
    assert s.pipelines_file.is_file()
    assert s.kafka.sasl_password is None


def test_settings_can_be_built_directly_in_a_fresh_process(clean_env):
    # a fresh interpreter: in this one load_settings() has already set the class attribute
    code = "from processor.config import Settings; print(Settings().kafka.bootstrap_servers)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "localhost:9092"


@pytest.mark.parametrize("name", sorted(ENV))
def test_environment_variables_are_honoured(clean_env, name):
    value, read = ENV[name]
    clean_env.setenv(name, value)
    assert read(load_settings()) == value


def test_all_environment_variables_together(clean_env, tmp_path):
    for name, (value, _) in ENV.items():
        clean_env.setenv(name, value)
    clean_env.setenv("PROCESSOR_MODELS__DIR", str(tmp_path / "models"))
    s = load_settings()
    assert all(read(s) == value for value, read in ENV.values())
    assert s.models.dir == tmp_path / "models"
    assert isinstance(s.models.dir, Path)


def test_numbers_and_json_from_the_environment(clean_env):
    clean_env.setenv("PROCESSOR_PROCESSING__BATCH_SIZE", "50")
    clean_env.setenv("PROCESSOR_PROCESSING__ALLOWED_LATENESS_MS", "0")
    clean_env.setenv("PROCESSOR_KAFKA__EXTRA", '{"linger.ms": "5"}')
    s = load_settings()
    assert s.processing.batch_size == 50
    assert s.processing.allowed_lateness_ms == 0
    assert s.kafka.client_config()["linger.ms"] == "5"


def test_yaml_file_is_read_and_the_environment_wins(clean_env, tmp_path):
    path = write_yaml(
        tmp_path / "c.yaml",
        {
            "kafka": {"bootstrap_servers": "file:9092", "group_id": "from-file"},
            "redis": {"key_prefix": "file:"},
            "topics": {"raw": "file.raw"},
            "processing": {"batch_size": 10},
            "log_level": "DEBUG",
        },
    )
    clean_env.setenv("PROCESSOR_KAFKA__GROUP_ID", "from-env")
    clean_env.setenv("PROCESSOR_PROCESSING__BATCH_SIZE", "20")
    s = load_settings(path)
    assert s.kafka.group_id == "from-env"  # environment over file
    assert s.kafka.bootstrap_servers == "file:9092"  # the file's sibling key survives the env override
    assert s.processing.batch_size == 20
    assert s.redis.key_prefix == "file:"
    assert s.topics.raw == "file.raw"
    assert s.topics.scored == "events.scored"  # defaults fill the rest
    assert s.log_level == "DEBUG"


def test_overrides_win_over_everything(clean_env, tmp_path):
    path = write_yaml(tmp_path / "c.yaml", {"kafka": {"group_id": "from-file"}})
    clean_env.setenv("PROCESSOR_KAFKA__GROUP_ID", "from-env")
    assert load_settings(path, kafka={"group_id": "override"}).kafka.group_id == "override"


def test_config_file_is_not_sticky(clean_env, tmp_path):
    path = write_yaml(tmp_path / "c.yaml", {"kafka": {"group_id": "from-file"}})
    assert load_settings(path).kafka.group_id == "from-file"
    assert load_settings().kafka.group_id == "processor"
    bad = write_yaml(tmp_path / "bad.yaml", {"kafka": {"group_id": "x", "bogus": 1}})
    with pytest.raises(ConfigError):
        load_settings(bad)
    assert load_settings().kafka.group_id == "processor"


def test_missing_config_file(clean_env, tmp_path):
    with pytest.raises(ConfigError) as info:
        load_settings(tmp_path / "nope.yaml")
    assert info.value.code == "config_file_missing"


def test_empty_config_file_means_defaults(clean_env, tmp_path):
    path = tmp_path / "empty.yaml"
    path.write_text("")
    assert load_settings(path) == load_settings()


@pytest.mark.parametrize("text", ["kafka: [unclosed\n", "- a\n- b\n"], ids=["bad-yaml", "list"])
def test_unreadable_config_file_is_a_config_error(clean_env, tmp_path, text):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError):
        load_settings(path)


def test_settings_are_frozen(settings):
    with pytest.raises(pydantic.ValidationError):
        settings.log_level = "DEBUG"  # type: ignore[misc]
    with pytest.raises(pydantic.ValidationError):
        settings.kafka.group_id = "other"  # type: ignore[misc]
    with pytest.raises(pydantic.ValidationError):
        settings.processing.batch_size = 1  # type: ignore[misc]
    assert settings.log_level == "INFO"


def test_secrets_are_hidden(clean_env):
    clean_env.setenv("PROCESSOR_KAFKA__SASL_PASSWORD", "hunter2-secret")
    clean_env.setenv("PROCESSOR_KAFKA__SASL_USERNAME", "svc")
    clean_env.setenv("PROCESSOR_KAFKA__SECURITY_PROTOCOL", "SASL_SSL")  # SASL settings without SASL are refused
    clean_env.setenv("PROCESSOR_KAFKA__SASL_MECHANISM", "SCRAM-SHA-512")
    clean_env.setenv("PROCESSOR_REDIS__PASSWORD", "redis-secret")
    s = load_settings()
    assert isinstance(s.kafka.sasl_password, pydantic.SecretStr)
    assert isinstance(s.redis.password, pydantic.SecretStr)
    for text in (repr(s), str(s), repr(s.kafka), str(s.kafka), s.model_dump_json()):
        assert "hunter2-secret" not in text
        assert "redis-secret" not in text
    assert s.kafka.sasl_password.get_secret_value() == "hunter2-secret"
    conf = s.kafka.client_config()
    assert conf["sasl.password"] == "hunter2-secret"  # only where librdkafka needs it
    assert conf["sasl.username"] == "svc"


def test_client_config_without_sasl(settings):
    conf = settings.kafka.client_config()
    assert conf == {"bootstrap.servers": "localhost:9092", "security.protocol": "PLAINTEXT"}


def test_transactional_id(clean_env):
    s = load_settings()
    assert s.kafka.effective_transactional_id().startswith("processor-")
    clean_env.setenv("PROCESSOR_KAFKA__TRANSACTIONAL_ID", "proc-7")
    assert load_settings().kafka.effective_transactional_id() == "proc-7"


@pytest.mark.parametrize(
    ("name", "value", "field"),
    [
        ("PROCESSOR_PROCESSING__BATCH_SIZE", "0", "processing.batch_size"),
        ("PROCESSOR_PROCESSING__BATCH_SIZE", "many", "processing.batch_size"),
        ("PROCESSOR_PROCESSING__MAX_MESSAGE_BYTES", "10", "processing.max_message_bytes"),
        ("PROCESSOR_PROCESSING__ALLOWED_LATENESS_MS", "-1", "processing.allowed_lateness_ms"),
        ("PROCESSOR_METRICS__PORT", "70000", "metrics.port"),
        ("PROCESSOR_KAFKA__SECURITY_PROTOCOL", "TLS", "kafka.security_protocol"),
        ("PROCESSOR_KAFKA__TRANSACTION_TIMEOUT_MS", "5", "kafka.transaction_timeout_ms"),
        ("PROCESSOR_REDIS__SOCKET_TIMEOUT_S", "0", "redis.socket_timeout_s"),
        ("PROCESSOR_KAFKA__BOOTSTRAP_SERVER", "typo:9092", "kafka.bootstrap_server"),
    ],
)
def test_invalid_values_name_the_field(clean_env, name, value, field):
    clean_env.setenv(name, value)
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert info.value.code == "invalid_settings"
    assert info.value.stage == "config"
    assert field in info.value.message


def test_invalid_value_in_the_file_names_the_field(clean_env, tmp_path):
    path = write_yaml(tmp_path / "c.yaml", {"topics": {"raw_partitions": 0}})
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    assert "topics.raw_partitions" in info.value.message


def test_unknown_key_in_the_file(clean_env, tmp_path):
    path = write_yaml(tmp_path / "c.yaml", {"kafak": {"group_id": "x"}})
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    assert "kafak" in info.value.message


def test_settings_class_direct_use_reads_the_environment(clean_env):
    clean_env.setenv("PROCESSOR_TOPICS__RAW", "direct.raw")
    assert Settings().topics.raw == "direct.raw"


# -- config/pipelines.yaml -------------------------------------------------------------------------


def real_pipelines() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((PROJECT_ROOT / "config" / "pipelines.yaml").read_text())
    return data


def test_the_real_pipeline_file_loads():
    config = load_pipelines(PROJECT_ROOT / "config" / "pipelines.yaml")
    assert set(config.event_types) == {"user_signed_up", "jira_ticket_created", "document_uploaded"}
    signup = config.event_types["user_signed_up"]
    assert signup.validation == "tolerant" and signup.late_policy == "flag"
    assert signup.positive_label == "fraud"
    assert config.event_types["document_uploaded"].late_policy == "quarantine"
    for cfg in config.event_types.values():
        assert cfg.decision.sorted_bands()[-1].min_score == 0.0
        assert cfg.schema_name is None  # the event type names the schema


def bad_pipelines(tmp_path: Path, mutate) -> ConfigError:
    data = real_pipelines()
    mutate(data)
    path = write_yaml(tmp_path / "pipelines.yaml", data)
    with pytest.raises(ConfigError) as info:
        load_pipelines(path)
    assert info.value.code == "pipelines_file_invalid"
    assert str(path) in info.value.message
    return info.value


def test_missing_bands(tmp_path):
    err = bad_pipelines(tmp_path, lambda d: d["event_types"]["user_signed_up"]["decision"].pop("bands"))
    assert "event_types.user_signed_up.decision.bands" in err.message


def test_empty_bands(tmp_path):
    def mutate(d):
        d["event_types"]["jira_ticket_created"]["decision"]["bands"] = []

    assert "event_types.jira_ticket_created.decision.bands" in bad_pipelines(tmp_path, mutate).message


def test_review_band_low_above_high(tmp_path):
    def mutate(d):
        d["event_types"]["document_uploaded"]["decision"]["review_band"] = {"low": 0.6, "high": 0.35}

    err = bad_pipelines(tmp_path, mutate)
    assert "event_types.document_uploaded.decision.review_band" in err.message
    assert "low" in err.message


def test_bands_without_a_zero_band(tmp_path):
    def mutate(d):
        d["event_types"]["user_signed_up"]["decision"]["bands"] = [{"min_score": 0.5, "decision": "block"}]

    err = bad_pipelines(tmp_path, mutate)
    assert "event_types.user_signed_up.decision" in err.message
    assert "0.0" in err.message


def test_band_score_out_of_range(tmp_path):
    def mutate(d):
        d["event_types"]["user_signed_up"]["decision"]["bands"].append({"min_score": 1.5, "decision": "x"})

    assert "event_types.user_signed_up.decision.bands.2.min_score" in bad_pipelines(tmp_path, mutate).message


def test_bad_regex_pattern(tmp_path):
    def mutate(d):
        d["event_types"]["document_uploaded"]["checks"][2]["pattern"] = "[0-9a-f{64"

    err = bad_pipelines(tmp_path, mutate)
    assert "event_types.document_uploaded.checks.2.pattern" in err.message
    assert "does not compile" in err.message


@pytest.mark.parametrize(
    ("where", "path"),
    [
        (lambda d: d["event_types"]["user_signed_up"], "event_types.user_signed_up.validaton"),
        (lambda d: d["event_types"]["user_signed_up"]["decision"], "event_types.user_signed_up.decision.validaton"),
        (lambda d: d["event_types"]["user_signed_up"]["checks"][0], "event_types.user_signed_up.checks.0.validaton"),
        (lambda d: d, "validaton"),
    ],
)
def test_unknown_key(tmp_path, where, path):
    err = bad_pipelines(tmp_path, lambda d: where(d).__setitem__("validaton", "strict"))
    assert path in err.message


@pytest.mark.parametrize(
    ("key", "value"), [("validation", "lenient"), ("late_policy", "drop")], ids=["validation", "late_policy"]
)
def test_bad_policy_values(tmp_path, key, value):
    err = bad_pipelines(tmp_path, lambda d: d["event_types"]["jira_ticket_created"].__setitem__(key, value))
    assert f"event_types.jira_ticket_created.{key}" in err.message


def test_no_event_types(tmp_path):
    err = bad_pipelines(tmp_path, lambda d: d.__setitem__("event_types", {}))
    assert "event_types" in err.message


def test_pipeline_file_missing_or_not_yaml(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_pipelines(tmp_path / "nope.yaml")
    assert info.value.code == "pipelines_file_missing"
    path = tmp_path / "broken.yaml"
    path.write_text("event_types: [unclosed\n")
    with pytest.raises(ConfigError) as info:
        load_pipelines(path)
    assert info.value.code == "pipelines_file_invalid"


def test_pipeline_config_is_frozen():
    config = load_pipelines(PROJECT_ROOT / "config" / "pipelines.yaml")
    with pytest.raises(pydantic.ValidationError):
        config.event_types["user_signed_up"].validation = "strict"  # type: ignore[misc]


def test_settings_to_env_reproduces_every_setting_in_a_child(clean_env):
    settings = load_settings(
        kafka={
            "group_id": "g",
            "security_protocol": "SASL_SSL",
            "sasl_mechanism": "SCRAM-SHA-512",
            "sasl_username": "svc",
            "sasl_password": "s3cret",
            "extra": {"socket.keepalive.enable": "true"},
        },
        redis={"key_prefix": "x:"},
        topics={"raw": "in", "raw_partitions": 12},
        processing={"batch_size": 77, "killswitch_default": "review"},
        metrics={"enabled": False},
        review={"reviewers": {"alice": "scrypt$16384$8$1$c2FsdA$aGFzaA"}},
    )
    env = settings_to_env(settings)
    assert env["PROCESSOR_KAFKA__SASL_PASSWORD"] == "s3cret"
    assert "PROCESSOR_KAFKA__TRANSACTIONAL_ID" not in env  # unset optionals stay unset
    for name, value in env.items():
        clean_env.setenv(name, value)
    assert load_settings() == settings


# -- the project directory ------------------------------------------------------------------------


def test_the_project_is_the_current_directory_by_default(clean_env, tmp_path, monkeypatch):
    (tmp_path / "pipelines.yaml").write_text("event_types: {}\n")
    monkeypatch.chdir(tmp_path)
    s = load_settings()
    assert s.project_dir == tmp_path.resolve()
    assert s.pipelines_file == tmp_path.resolve() / "pipelines.yaml"
    assert s.schemas_dir == tmp_path.resolve() / "schemas"
    assert s.features_dir == tmp_path.resolve() / "features"
    assert s.models.dir == tmp_path.resolve() / "models"
    assert s.ingest.upload_dir == tmp_path.resolve() / "data" / "uploads"


def test_no_default_points_inside_the_installed_package(clean_env, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    s = load_settings()
    package = Path(__file__).resolve().parents[2] / "processor"
    for path in (s.pipelines_file, s.schemas_dir, s.features_dir, s.models.dir, s.ingest.upload_dir):
        assert not path.is_relative_to(package), path
        assert path.is_relative_to(tmp_path.resolve()), path


def test_the_project_from_the_environment_and_from_an_override(clean_env, tmp_path):
    env_project, cli_project = tmp_path / "env", tmp_path / "cli"
    clean_env.setenv("PROCESSOR_PROJECT_DIR", str(env_project))
    assert load_settings().schemas_dir == env_project / "schemas"
    # --project DIR (an override) wins over the environment
    assert load_settings(project_dir=cli_project).pipelines_file == cli_project / "pipelines.yaml"


def test_the_repository_is_the_example_project_with_its_config_folder(clean_env, monkeypatch):
    monkeypatch.chdir(PROJECT_ROOT)
    s = load_settings()
    assert s.pipelines_file == PROJECT_ROOT / "config" / "pipelines.yaml"
    assert sorted(load_pipelines(s.pipelines_file).event_types) == [
        "document_uploaded",
        "jira_ticket_created",
        "user_signed_up",
    ]


def test_explicit_paths_stay_and_relative_ones_are_the_projects(clean_env, tmp_path):
    s = load_settings(project_dir=tmp_path, schemas_dir="/opt/schemas", pipelines_file="conf/p.yaml")
    assert s.schemas_dir == Path("/opt/schemas")
    assert s.pipelines_file == tmp_path.resolve() / "conf" / "p.yaml"


def test_a_missing_pipeline_file_names_the_project(clean_env, tmp_path):
    s = load_settings(project_dir=tmp_path)
    with pytest.raises(ConfigError, match=str(tmp_path)) as info:
        load_pipelines(s.pipelines_file)
    assert info.value.code == "pipelines_file_missing"
