"""local.settings.json, %SETTING% expressions and host.json parsing (pure, no host)."""
from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from devtools.local_host.app_settings import (
    SettingsFileError,
    UnresolvedSettingError,
    apply_settings,
    read_local_settings,
    resolve_setting_expressions,
)
from devtools.local_host.host_config import HostConfigError, QueueOptions, load_host_config, parse_host_config


def write(path: Path, document: object) -> Path:
    path.write_text(json.dumps(document) if not isinstance(document, str) else document, encoding="utf-8")
    return path


def test_values_connection_strings_and_port(tmp_path: Path) -> None:
    settings = read_local_settings(
        write(
            tmp_path / "local.settings.json",
            {
                "IsEncrypted": False,
                "Values": {"A": "1", "FLAG": True, "COUNT": 5, "NOTHING": None},
                "ConnectionStrings": {"Db": "Server=x", "Other": {"ConnectionString": "y", "ProviderName": "p"}},
                "Host": {"LocalHttpPort": 7080},
            },
        )
    )
    assert settings.values == {"A": "1", "FLAG": "true", "COUNT": "5", "NOTHING": None}
    assert settings.local_http_port == 7080
    assert settings.as_settings()["ConnectionStrings:Db"] == "Server=x"
    assert settings.as_settings()["ConnectionStrings:Other"] == "y"


def test_missing_file_is_empty_and_bom_is_accepted(tmp_path: Path) -> None:
    assert read_local_settings(tmp_path / "absent.json").values == {}
    path = tmp_path / "bom.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps({"Values": {"A": "b"}}).encode())
    assert read_local_settings(path).values == {"A": "b"}


@pytest.mark.parametrize(
    "content",
    ["{not json", "[1, 2]", json.dumps({"IsEncrypted": True, "Values": {}}), json.dumps({"Values": ["a"]})],
)
def test_unusable_settings_files(tmp_path: Path, content: str) -> None:
    with pytest.raises(SettingsFileError):
        read_local_settings(write(tmp_path / "local.settings.json", content))


@pytest.mark.parametrize(
    ("environment", "setting", "expected_value", "warning"),
    [
        ({}, "from-file", "from-file", None),
        ({"KEY": "from-env"}, "from-file", "from-env", "Skipping 'KEY' from local settings as it's already defined"),
        ({"KEY": ""}, "from-file", "from-file", None),  # an empty variable does not count as set
        ({}, "", "", None),  # an empty value is exported as empty
        ({}, None, None, "Skipping 'KEY' because value is null"),
    ],
)
def test_environment_wins_over_local_settings(
    environment: dict[str, str], setting: str | None, expected_value: str | None, warning: str | None
) -> None:
    env = dict(environment)
    warnings = apply_settings({"KEY": setting}, env)
    assert env.get("KEY") == expected_value
    assert (warnings[0].startswith(warning) if warning else warnings == [])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("%SCHEDULE%", "0 */5 * * * *"),
        ("%PREFIX%-work", "certsync-work"),
        ("no expressions", "no expressions"),
    ],
)
def test_setting_expressions(text: str, expected: str) -> None:
    env = {"SCHEDULE": "0 */5 * * * *", "PREFIX": "certsync"}
    assert resolve_setting_expressions(text, env) == expected


def test_unresolved_setting_expression_names_the_setting() -> None:
    with pytest.raises(UnresolvedSettingError, match="OPERATIONS_QUEUE"):
        resolve_setting_expressions("%OPERATIONS_QUEUE%", {})


def test_host_json_defaults_match_the_real_host(tmp_path: Path) -> None:
    config = load_host_config(tmp_path, {})  # no host.json at all
    assert config.route_prefix == "api"
    defaults = config.queues
    assert (defaults.batch_size, defaults.max_dequeue_count, defaults.message_encoding) == (16, 5, "base64")
    assert defaults.max_polling_interval == timedelta(minutes=1)
    assert defaults.visibility_timeout == timedelta(0)
    assert defaults.new_batch_threshold % 8 == 0 and defaults.new_batch_threshold >= 8  # batchSize/2 x processors


def test_host_json_values_any_key_case() -> None:
    config = parse_host_config(
        {
            "Extensions": {
                "HTTP": {"routePrefix": "/v1/"},
                "queues": {"BatchSize": 8, "maxPollingInterval": "00:00:02", "visibilityTimeout": "00:00:10",
                           "maxDequeueCount": 2, "newBatchThreshold": 1, "messageEncoding": "None"},
            },
            "functions": ["a", "b"],
        }
    )
    assert config.route_prefix == "v1"
    assert config.queues == QueueOptions(8, 1, timedelta(seconds=2), timedelta(seconds=10), 2, "none")
    assert config.queues.max_concurrency == 9
    assert config.functions == ("a", "b")


def test_empty_route_prefix() -> None:
    assert parse_host_config({"extensions": {"http": {"routePrefix": ""}}}).route_prefix == ""


def test_environment_overrides_host_json(tmp_path: Path) -> None:
    write(tmp_path / "host.json", {"version": "2.0", "extensions": {"queues": {"batchSize": 8}}})
    env = {
        "AzureFunctionsJobHost__extensions__queues__batchSize": "2",
        "AzureFunctionsJobHost__extensions__http__routePrefix": "x",
        "AzureFunctionsJobHost__functions__0": "only_this",
    }
    config = load_host_config(tmp_path, env)
    assert (config.queues.batch_size, config.route_prefix, config.functions) == (2, "x", ("only_this",))


@pytest.mark.parametrize(
    "queues",
    [
        {"batchSize": 0},
        {"batchSize": 33},
        {"maxDequeueCount": 0},
        {"maxPollingInterval": "00:00:00.05"},  # below the 100 ms minimum
        {"maxPollingInterval": 2000},  # a bare number would be 2000 *days* to the real host
        {"visibilityTimeout": "ten seconds"},
        {"messageEncoding": "utf8"},
    ],
)
def test_invalid_queue_options(queues: dict[str, object]) -> None:
    with pytest.raises(HostConfigError):
        parse_host_config({"extensions": {"queues": queues}})


def test_invalid_host_json_file(tmp_path: Path) -> None:
    write(tmp_path / "host.json", "{oops")
    with pytest.raises(HostConfigError):
        load_host_config(tmp_path, {})
