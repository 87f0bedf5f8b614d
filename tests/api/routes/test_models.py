"""Models over HTTP: train as a job, predict, batch, deploy, roll back, metrics, problems."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from riskcast.api import problems
from riskcast.api.routes.models import router
from riskcast.bus.memory import MemoryBus
from riskcast.exceptions import ValidationError
from riskcast.models.service import ModelService
from riskcast.models.training import TrainingPlan
from tests.models.conftest import plan

API = "/api/v1/models"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def synthetic(options: Mapping[str, Any], source: Path | None) -> TrainingPlan:
    for key in options:
        raise ValidationError(f"unknown option {key}", field=f"options.{key}")
    return plan()


@pytest.fixture
async def service(tmp_path: Path) -> AsyncIterator[ModelService]:
    bus = MemoryBus()
    svc = ModelService(tmp_path / "data", bus,
                       trainers={"synthetic": synthetic})
    await svc.start()
    yield svc
    await svc.aclose()
    await bus.aclose()


@pytest.fixture
async def client(service: ModelService) -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    app.state.runtime = SimpleNamespace(models=service)
    problems.install(app)
    app.include_router(router)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c


async def train(client: httpx.AsyncClient, service: ModelService) -> dict[str, object]:
    r = await client.post(f"{API}/synthetic/train", json={"by": "ann"})
    assert r.status_code == 202, r.text
    job_id = r.json()["id"]
    await asyncio.wait_for(service.job(job_id).finished.wait(), 20)
    job = (await client.get(f"{API}/jobs/{job_id}")).json()
    assert job["state"] == "succeeded", job
    return dict(job)


@pytest.mark.anyio
async def test_train_predict_deploy_rollback(client: httpx.AsyncClient,
                                             service: ModelService) -> None:
    assert (await train(client, service))["version"] == 1
    assert (await train(client, service))["version"] == 2
    listed = (await client.get(API)).json()["models"]
    assert {m["name"]: m["versions"] for m in listed}["synthetic"] == 2

    r = await client.post(f"{API}/synthetic/predict",
                          json={"rows": [{"a": 1, "b": 0, "c": 0}, [-1, 0, 0]]})
    assert r.status_code == 200 and r.json()["version"] == 2
    assert r.json()["labels"] == [1, 0]

    for version in (1, 2):
        r = await client.post(f"{API}/synthetic/deploy", json={"version": version, "by": "bob"})
        assert r.status_code == 200 and r.json()["to_version"] == version
    r = await client.post(f"{API}/synthetic/rollback", json={"by": "cid"})
    assert r.json()["from_version"] == 2 and r.json()["to_version"] == 1
    r = await client.post(f"{API}/synthetic/predict", json={"rows": [[0, 0, 0]]})
    assert r.json()["version"] == 1
    r = await client.post(f"{API}/synthetic/predict?version=2", json={"rows": [[0, 0, 0]]})
    assert r.json()["version"] == 2

    shown = (await client.get(f"{API}/synthetic")).json()
    assert shown["aliases"] == {"production": 1}
    assert [m["by"] for m in shown["moves"]] == ["bob", "bob", "cid"]
    assert shown["versions"][0]["created_by"] == "ann"
    metrics = (await client.get(f"{API}/synthetic/metrics?version=latest")).json()
    assert metrics["version"] == 2 and metrics["baseline_name"] == "majority class"
    r = await client.post(f"{API}/synthetic/outcomes?version=2",
                          json={"rows": [[2, 0, 0], [-2, 0, 0]], "labels": [1, 1]})
    assert r.status_code == 200 and r.json()["accuracy"] == 0.5 and r.json()["version"] == 2
    perf = (await client.get(f"{API}/synthetic/performance")).json()
    assert perf["versions"][0]["version"] == 2 and perf["versions"][0]["all"]["n"] == 2
    r = await client.post(f"{API}/vote/ensemble", json={"members": [
        {"model": "synthetic", "version": 1}, {"model": "synthetic", "version": 2, "weight": 2}]})
    assert r.status_code == 201 and r.json()["version"] == 1
    r = await client.post(f"{API}/vote/predict", json={"rows": [[1, 0, 0]]})
    assert r.status_code == 200 and r.json()["labels"] == [1]
    kinds = [e.data["type"] for e in await service.bus.history("models", 0)]  # type: ignore[union-attr]
    assert kinds.count("alias") == 3 and "job" in kinds


@pytest.mark.anyio
async def test_batch_by_rows_and_columns(client: httpx.AsyncClient,
                                         service: ModelService) -> None:
    await train(client, service)
    rows = [[0.1 * i, 0.0, 1.0] for i in range(-500, 500)]
    r = await client.post(f"{API}/synthetic/predict/batch", json={"rows": rows})
    assert r.status_code == 200 and r.json()["count"] == 1000
    cols = {"a": [r[0] for r in rows], "b": [0.0] * 1000, "c": [1.0] * 1000}
    r2 = await client.post(f"{API}/synthetic/predict/batch", json={"columns": cols})
    assert r2.json()["probabilities"] == r.json()["probabilities"]
    r3 = await client.post(f"{API}/synthetic/drift", json={"columns": cols})
    levels = {f["feature"]: f["level"] for f in r3.json()["features"]}
    assert r3.status_code == 200 and levels == {"a": "major", "b": "major", "c": "major"}


@pytest.mark.anyio
async def test_errors_are_problems_naming_the_field(client: httpx.AsyncClient,
                                                    service: ModelService) -> None:
    r = await client.get(f"{API}/nothing")
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"
    assert (await client.post(f"{API}/nothing/train")).status_code == 404
    assert (await client.get(f"{API}/jobs/nope")).status_code == 404
    r = await client.post(f"{API}/synthetic/train", json={"options": {"x": 1}})
    assert r.status_code == 422 and r.json()["field"] == "options.x"
    await train(client, service)
    r = await client.post(f"{API}/synthetic/predict", json={"rows": [{"a": 1, "b": 2}]})
    assert r.status_code == 422 and r.json()["field"] == "rows[0].c"
    r = await client.post(f"{API}/synthetic/predict/batch", json={"rows": [[1, "x", 2]]})
    assert r.status_code == 422 and r.json()["field"] == "body"
    r = await client.post(f"{API}/synthetic/drift", json={"rows": [[0, 0, 0]]})
    assert r.status_code == 422 and r.json()["field"] == "columns"
    r = await client.post(f"{API}/synthetic/predict/batch", content=b"{")
    assert r.status_code == 422
    r = await client.post(f"{API}/synthetic/rollback", json={})
    assert r.status_code == 409
    r = await client.post(f"{API}/synthetic/deploy", json={"version": 1, "alias": "canary"})
    assert r.status_code == 422 and r.json()["field"] == "alias"
    r = await client.post(f"{API}/synthetic/predict?version=production", json={"rows": [[0, 0, 0]]})
    assert r.status_code == 404


@pytest.mark.anyio
async def test_online_learner_over_http(client: httpx.AsyncClient) -> None:
    rows = [{"x": float(i % 5 - 2), "z": 0.0} for i in range(200)]
    r = await client.post(f"{API}/live/online/learn",
                          json={"rows": rows, "labels": [row["x"] > 0 for row in rows]})
    assert r.status_code == 200 and r.json()["seen"] == 200
    r = await client.post(f"{API}/live/online/predict", json={"rows": [{"x": 2.0, "z": 0.0}]})
    assert r.json()["probabilities"][0] > 0.6
    r = await client.post(f"{API}/live/online/predict", json={"rows": [{"z": 0.0}]})
    assert r.status_code == 422 and r.json()["field"] == "rows[0].x"
