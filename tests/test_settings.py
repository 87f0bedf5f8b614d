"""Settings: defaults, TOML file, environment, overrides, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from riskcast.exceptions import ConfigError
from riskcast.settings import Settings, load_settings


def test_precedence_file_then_env_then_flags(tmp_path: Path) -> None:
    config = tmp_path / "riskcast.toml"
    config.write_text('port = 9001\nretention = "30d"\nhost = "0.0.0.0"\n')
    env = {"RISKCAST_PORT": "9002", "RISKCAST_PACKS": "generic,wildfire"}
    s = load_settings(config, {"port": 9003, "host": None}, environ=env)
    assert (s.port, s.retention, s.host) == (9003, "30d", "0.0.0.0")
    assert s.packs == ["generic", "wildfire"]
    assert load_settings(config, environ=env).port == 9002
    assert load_settings(environ={"RISKCAST_CONFIG": str(config)}).port == 9001


def test_defaults_and_storage_url() -> None:
    s = Settings()
    assert s.port == 8000 and s.bus == "memory"
    assert s.storage_url == "sqlite:///.riskcast/riskcast.db"
    assert s.us("max_future_skew") == 300_000_000


@pytest.mark.parametrize(("env", "words"), [
    ({"RISKCAST_PORT": "eighty"}, "port"),
    ({"RISKCAST_RETENTION": "forever"}, "retention"),
    ({"RISKCAST_RETENTION_BY_VARIABLE": "{not json"}, "RISKCAST_RETENTION_BY_VARIABLE"),
    ({"RISKCAST_RETENTION_BY_VARIABLE": '{"rain_mm": "soon"}'}, "retention_by_variable.rain_mm"),
    ({"RISKCAST_MAX_BATCH": "0"}, "max_batch"),
    ({"RISKCAST_SQLITE_SYNCHRONOUS": "sometimes"}, "sqlite_synchronous"),
])
def test_bad_values_name_the_setting(env: dict[str, str], words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        load_settings(environ=env)


def test_unknown_key_in_file_and_missing_file(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text("prot = 1\n")
    with pytest.raises(ConfigError, match="prot"):
        load_settings(config, environ={})
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "none.toml", environ={})
    config.write_text("port = \n")
    with pytest.raises(ConfigError, match=r"c\.toml"):
        load_settings(config, environ={})
