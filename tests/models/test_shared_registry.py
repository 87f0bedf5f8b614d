"""Two servers sharing PostgreSQL share one registry: a version trained and deployed through
one is served by the other."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from riskcast.settings import Settings
from riskcast.testing.server import LiveServer, live_server

from ..conftest import SHARED_DATA
from ..pipeline.test_predictions_live import train
from .test_store_contract import PG_URL, pg_schema  # noqa: F401  (the fixture)

ROW = {"Temperature": 36.0, "RH": 35.0, "Ws": 17.0, "Rain": 0.0}


@pytest.fixture
def servers(tmp_path: Path, pg_schema: str,  # noqa: F811
            ) -> Iterator[tuple[LiveServer, LiveServer]]:
    from riskcast.storage.postgres import PostgresStorage

    def settings(name: str) -> Settings:
        return Settings(data_dir=tmp_path / name, storage=PG_URL, retention="0", auth=False)

    with live_server(settings("a"), storage=PostgresStorage(PG_URL, schema=pg_schema)) as a, \
            live_server(settings("b"), storage=PostgresStorage(PG_URL, schema=pg_schema)) as b:
        for srv in (a, b):
            srv.runtime.models.source_dir = SHARED_DATA  # type: ignore[union-attr]
        yield a, b


@pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="shared/data is not beside the repository")
def test_a_deploy_on_one_server_is_served_by_the_other(servers: tuple[LiveServer, LiveServer],
                                                       ) -> None:
    a, b = servers
    assert not (a.runtime.settings.data_dir / "models.db").exists()
    with httpx.Client(base_url=a.url, timeout=60) as ca, \
            httpx.Client(base_url=b.url, timeout=60) as cb:
        assert train(a, ca, "wildfire-occurrence", {}) == 1
        ca.post("/api/v1/models/wildfire-occurrence/deploy", json={"version": 1}
                ).raise_for_status()
        first = cb.post("/api/v1/models/wildfire-occurrence/predict", json={"rows": [ROW]})
        assert first.status_code == 200 and first.json()["version"] == 1
        cached = ca.post("/api/v1/models/wildfire-occurrence/predict", json={"rows": [ROW]})
        assert cached.json()["version"] == 1  # a's resolution is cached now
        assert train(b, cb, "wildfire-occurrence", {"algorithm": "logistic regression"}) == 2
        cb.post("/api/v1/models/wildfire-occurrence/deploy", json={"version": 2}
                ).raise_for_status()
        models = a.runtime.models
        assert models is not None and a.loop is not None
        stamp = models.registry.store.stamp()
        asyncio.run_coroutine_threadsafe(asyncio.wait_for(models.noticed(stamp), 10),
                                         a.loop).result()
        answer = ca.post("/api/v1/models/wildfire-occurrence/predict", json={"rows": [ROW]})
        assert answer.json()["version"] == 2
        status = ca.get("/api/v1/models/wildfire-occurrence/status").json()
        assert status["production"]["version"] == 2 and status["latest"] == 2
        assert [m["to_version"] for m in ca.get("/api/v1/models/wildfire-occurrence"
                                                ).json()["moves"]] == [1, 2]
