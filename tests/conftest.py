"""Fixtures shared by the whole suite."""

from __future__ import annotations

import io
import logging
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

from riskcast.logs import configure

#: In CI every service must be there: a test that needs one fails instead of skipping.
IN_CI = os.environ.get("CI", "").lower() == "true"
SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def service_reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def require_service(name: str, host: str, port: int) -> None:
    """Skip with a reason when a service is down, but fail under CI=true."""
    if service_reachable(host, port):
        return
    message = f"{name} is not reachable on {host}:{port}"
    if IN_CI:
        pytest.fail(f"{message} (CI=true: services must be up)")
    pytest.skip(message)


@pytest.fixture
def server(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A real riskcast server on SQLite in a temporary data dir, with site ``s1``; auth
    off (tests/security and tests/api/routes/test_auth.py cover it)."""
    import httpx

    from riskcast.settings import Settings
    from riskcast.testing.server import live_server

    settings = Settings(data_dir=tmp_path / "data", sqlite_synchronous="normal",
                        max_future_skew="5m", retention="0", auth=False)
    with live_server(settings) as srv:
        httpx.post(f"{srv.url}/api/v1/sites", json={"id": "s1", "name": "One"}).raise_for_status()
        yield srv


@pytest.fixture
def json_logs(monkeypatch: pytest.MonkeyPatch) -> Iterator[io.StringIO]:
    """JSON logs into a buffer; the logging set-up is put back afterwards."""
    stream = io.StringIO()
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    monkeypatch.setattr("sys.stderr", stream)
    configure("info", "json")
    yield stream
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.reset_defaults()
