"""Helpers for the backup tests: a deployment with something in every store, and a
row-by-row picture of a data dir."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import httpx
import pytest

from riskcast.backup.archive import SQLITE_MAGIC, discover
from riskcast.testing.server import LiveServer

HOT = {"id": "hot", "condition": {"kind": "threshold", "series": "temp_c", "above": 40}}


@pytest.fixture
def headers() -> dict[str, str]:
    """The one place request headers are set (auth is beside the point here)."""
    return {}


def populate(srv: LiveServer, headers: dict[str, str], *, readings: int = 500) -> None:
    """Sites, readings, a rule with a firing alert, and a model version with an alias."""
    with httpx.Client(base_url=srv.url, headers=headers, timeout=30) as c:
        c.post("/api/v1/sites", json={"id": "s1", "name": "One"}).raise_for_status()
        c.post("/api/v1/sites", json={"id": "s2", "name": "Two", "tags": {"k": "v"}}
               ).raise_for_status()
        c.post("/api/v1/rules", json=HOT).raise_for_status()
        body = {"readings": [
            {"site": f"s{1 + i % 2}", "variable": "temp_c", "value": 20 + (i % 30),
             "time": 1_700_000_000 + i} for i in range(readings)]}
        assert c.post("/api/v1/readings", json=body).json()["accepted"] == readings
        hot = {"readings": [{"site": "s1", "variable": "temp_c", "value": 45.0}]}
        assert c.post("/api/v1/readings", json=hot).json()["accepted"] == 1
    events = srv.runtime.alerts.received
    srv.call(srv.runtime.alerts.wait_evaluated(events))
    if srv.runtime.models is not None:
        from tests.models.conftest import classification_data, logistic, meta

        data = classification_data()
        fitted = logistic().fit(data.X, data.y)
        registry = srv.runtime.models.registry

        async def add_model() -> None:
            stored = registry.register(meta("m"), fitted)
            await registry.deploy("m", stored.version, "production", "test")

        srv.call(add_model())


def picture(data_dir: Path) -> dict[str, Any]:
    """Every row of every table of every SQLite database, and every other file's bytes
    (the backups folder aside)."""
    found: dict[str, Any] = {}
    for rel in discover(data_dir, exclude=(data_dir / "backups",)):
        path = data_dir / rel
        with path.open("rb") as fh:
            is_db = fh.read(16) == SQLITE_MAGIC
        if not is_db:
            found[rel.as_posix()] = path.read_bytes()
            continue
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            tables = [r[0] for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
            found[rel.as_posix()] = {
                "schema": conn.execute("SELECT type, name, sql FROM sqlite_master "
                                       "ORDER BY type, name").fetchall(),
                **{t: sorted(conn.execute(f'SELECT * FROM "{t}"').fetchall(), key=repr)
                   for t in tables}}
        finally:
            conn.close()
    return found

