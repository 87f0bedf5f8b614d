"""All of riskcast's settings and their defaults, in one place.

Precedence, lowest first: the defaults below, a TOML config file (``--config FILE`` or
``RISKCAST_CONFIG``), ``RISKCAST_<NAME>`` environment variables, then command-line flags.
Durations are text such as ``90s``, ``15m``, ``1h``, ``7d``.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import msgspec

from riskcast.core.clock import parse_duration
from riskcast.exceptions import ConfigError, ValidationError

ENV_PREFIX = "RISKCAST_"


class Settings(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Every setting, with its default."""

    #: Address and port ``riskcast serve`` listens on.
    host: str = "127.0.0.1"
    port: int = 8000
    #: Where the embedded database, backups and state live.
    data_dir: Path = Path(".riskcast")
    #: Storage URL: empty means SQLite at ``<data_dir>/riskcast.db``; or ``sqlite:///path``,
    #: ``memory``, ``postgresql://user@host/db``.
    storage: str = ""
    #: SQLite's ``synchronous``: ``full`` survives power loss, ``normal`` only a crash.
    sqlite_synchronous: str = "full"
    #: Bus URL: ``memory`` (in-process), ``redis://host:6379`` or ``nats://host:4222``.
    bus: str = "memory"
    #: MQTT broker to subscribe to (``mqtt://host:1883``); empty: no MQTT.
    mqtt: str = ""
    mqtt_prefix: str = "riskcast"
    #: The client id names the persistent session: keep it stable across restarts.
    mqtt_client_id: str = "riskcast"
    #: HTTP JSON pollers, each ``{name, url, interval, timeout, preset | mapping, headers}``
    #: (``[[pollers]]`` tables in the TOML file; see docs/pollers.md).
    pollers: list[dict[str, Any]] = []
    #: Priority per source kind (the part of a reading's ``source`` before ``:``) when two
    #: sources report the same site, variable and time; empty uses the defaults in
    #: ``riskcast/core/sources.py`` (sensor 40 > agency 30 > satellite 20 > model 10).
    source_priority: dict[str, int] = {}
    #: Packs to load; empty loads every installed pack.
    packs: list[str] = []

    #: Most readings accepted in one ``POST /api/v1/readings``.
    max_batch: int = 10_000
    #: Readings stamped further than this in the future are refused.
    max_future_skew: str = "5m"
    #: Readings waiting for a commit before ingest answers 503 with Retry-After.
    max_pending_readings: int = 200_000
    #: Largest request body accepted, in bytes.
    max_body_bytes: int = 16 * 1024 * 1024

    #: Events retained per channel for resume with ``since`` / ``Last-Event-ID``.
    history_size: int = 1000
    #: Readings (and other events) one process keeps waiting for the bus while it is away;
    #: past this, a channel's waiting events become one ``history_gap`` event.
    publish_queue: int = 100_000
    #: Bytes a live-stream subscriber may have unsent before it is dropped as too slow.
    subscriber_buffer_bytes: int = 4 * 1024 * 1024
    #: How often a quiet live stream sends a keep-alive.
    keepalive: str = "15s"
    #: Several processes on PostgreSQL: how often each checks (or tries to take) the lease
    #: that lets one of them evaluate alerts; a dead holder is replaced within about this.
    lease_interval: str = "1s"

    #: Raw readings older than this are deleted by the retention job; ``0`` keeps forever.
    retention: str = "365d"
    #: Per-variable overrides of ``retention``, e.g. ``{"temp_c": "30d"}``.
    retention_by_variable: dict[str, str] = {}
    #: How often the retention job runs.
    retention_interval: str = "1h"

    #: Scheduled backups while serving: how often (``0``: off), how many archives to keep,
    #: and where (empty: ``<data_dir>/backups``). See docs/operations.md.
    backup_interval: str = "0"
    backup_keep: int = 7
    backup_dir: str = ""

    #: Rows per page in raw series queries (default and most).
    page_size: int = 1000
    max_page_size: int = 10_000

    #: Run the built-in simulator (``make demo`` turns it on).
    simulate: bool = False
    simulate_sites: int = 5
    simulate_interval: str = "1s"
    #: With ``simulate``: train (quick settings) and deploy, in the background at start, the
    #: served models that have no production version, so the demo shows predictions.
    simulate_models: bool = True

    #: Log level and format (``json`` or ``console``).
    log_level: str = "info"
    log_format: str = "console"

    #: Require an API key (or a token made from one) on every endpoint except ``/health/*``,
    #: ``/metrics`` (see ``metrics_public``), the dashboard's files and the API docs.
    #: ``false`` leaves everything open. Roles and scopes: docs/security.md.
    auth: bool = True
    #: A known admin key for automation (``RISKCAST_ADMIN_KEY``), at least 16 characters;
    #: valid in every process while it is set. Empty: ``riskcast serve`` prints a one-time
    #: admin key on its first start with an empty key store.
    admin_key: str = ""
    #: Signs stream tokens (HS256). Empty: generated once and kept in the key store, so
    #: every process of a deployment shares it.
    secret: str = ""
    #: Lifetime of a token from ``POST /api/v1/auth/token``.
    token_ttl: str = "15m"
    #: How long a process trusts a key it has checked before reading it again: a key
    #: revoked in another process stops working here within this time (at once in the
    #: revoking process).
    key_cache_ttl: str = "5s"
    #: Serve ``/metrics`` without a key.
    metrics_public: bool = True
    #: Browser origins allowed to call the API (CORS), e.g. ``["https://ops.example"]``;
    #: empty: same origin only.
    cors_origins: list[str] = []
    #: Requests per second each key may make on average (a token bucket), and how many at
    #: once after a quiet spell; over it: 429 with Retry-After. ``0`` turns the limit off.
    rate_limit: float = 200.0
    rate_burst: int = 400
    #: Requests per second, and the burst, each client address may make to guarded
    #: endpoints without a key (each answered 401); over it: 429. ``0`` turns it off.
    anon_rate_limit: float = 5.0
    anon_rate_burst: int = 20
    #: Failed key or token attempts each client address may make per minute (and at
    #: once); past it, the address gets 429 with Retry-After before any key is checked.
    #: ``0`` turns the guard off.
    auth_failures: int = 20

    def __repr__(self) -> str:  # never print a key or a secret
        shown = {f: getattr(self, f) for f in self.__struct_fields__}
        for name in ("admin_key", "secret"):
            if shown[name]:
                shown[name] = "***"
        return "Settings(" + ", ".join(f"{k}={v!r}" for k, v in shown.items()) + ")"

    def __post_init__(self) -> None:
        for name in ("max_future_skew", "keepalive", "retention_interval", "simulate_interval",
                     "token_ttl", "key_cache_ttl"):
            _check_duration(name, getattr(self, name))
        if self.sqlite_synchronous not in ("normal", "full", "extra"):
            raise ConfigError("setting sqlite_synchronous: use normal, full or extra")
        _check_duration("lease_interval", self.lease_interval)
        if self.retention != "0":
            _check_duration("retention", self.retention)
        if self.backup_interval != "0":
            _check_duration("backup_interval", self.backup_interval)
        if self.backup_keep < 1:
            raise ConfigError("setting backup_keep: must be at least 1")
        for variable, value in self.retention_by_variable.items():
            if value != "0":
                _check_duration(f"retention_by_variable.{variable}", value)
        for name in ("max_batch", "max_pending_readings", "history_size", "publish_queue",
                     "page_size", "max_page_size", "max_body_bytes",
                     "subscriber_buffer_bytes"):
            if getattr(self, name) < 1:
                raise ConfigError(f"setting {name}: must be at least 1")
        if self.admin_key and len(self.admin_key) < 16:
            raise ConfigError("setting admin_key: use at least 16 characters "
                              "(riskcast keys create prints a strong one)")
        if self.secret and len(self.secret) < 32:
            raise ConfigError("setting secret: use at least 32 characters (HS256 needs 256 bits)")
        if self.rate_limit < 0 or self.rate_burst < 1:
            raise ConfigError("setting rate_limit: must be 0 (off) or more, rate_burst at least 1")
        if self.anon_rate_limit < 0 or self.anon_rate_burst < 1:
            raise ConfigError("setting anon_rate_limit: must be 0 (off) or more, "
                              "anon_rate_burst at least 1")
        if self.auth_failures < 0:
            raise ConfigError("setting auth_failures: must be 0 (off) or more")

    @property
    def storage_url(self) -> str:
        """The storage URL with the default filled in."""
        return self.storage or f"sqlite:///{self.data_dir / 'riskcast.db'}"

    def us(self, name: str) -> int:
        """A duration setting in microseconds (``0`` for a disabled retention)."""
        value = getattr(self, name)
        return 0 if value == "0" else parse_duration(value, field=name)


def _check_duration(name: str, value: str) -> None:
    try:
        parse_duration(value, field=name)
    except ValidationError as err:
        raise ConfigError(f"setting {err}") from err


def _field_types() -> dict[str, Any]:
    return {f.name: f.type for f in msgspec.structs.fields(Settings)}


def _from_env(environ: Mapping[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, kind in _field_types().items():
        raw = environ.get(ENV_PREFIX + name.upper())
        if raw is None:
            continue
        if "dict" in str(kind) or "list" in str(kind):
            stripped = raw.strip()
            if name == "packs" and not stripped.startswith("["):
                values[name] = [p.strip() for p in stripped.split(",") if p.strip()]
                continue
            try:
                values[name] = msgspec.json.decode(stripped)
            except msgspec.DecodeError as err:
                raise ConfigError(f"{ENV_PREFIX}{name.upper()}: not valid JSON: {err}") from err
        else:
            values[name] = raw
    return values


def load_settings(
    config_file: str | Path | None = None,
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Settings from defaults, a TOML file, ``RISKCAST_*`` variables and ``overrides``.

    ``None`` values in ``overrides`` are ignored, so CLI flags left unset fall through.

    >>> load_settings(environ={"RISKCAST_PORT": "9000"}).port
    9000
    """
    env = os.environ if environ is None else environ
    merged: dict[str, Any] = {}
    config_file = config_file or env.get(ENV_PREFIX + "CONFIG")
    if config_file:
        path = Path(config_file)
        try:
            with path.open("rb") as fh:
                merged.update(tomllib.load(fh))
        except FileNotFoundError as err:
            raise ConfigError(f"config file not found: {path}") from err
        except tomllib.TOMLDecodeError as err:
            raise ConfigError(f"config file {path}: {err}") from err
    merged.update(_from_env(env))
    merged.update({k: v for k, v in (overrides or {}).items() if v is not None})
    try:
        return msgspec.convert(merged, Settings, strict=False)
    except msgspec.ValidationError as err:
        raise ConfigError(f"invalid setting: {err}") from err
