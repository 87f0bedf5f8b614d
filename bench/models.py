"""Model predictions: one row and batches, the served path against naive baselines.

A 100-tree LightGBM classifier on 15 features (synthetic data), registered through
:class:`~riskcast.models.service.ModelService`. Measures, in one run:

* one row through ``ModelService.predict`` (cached predictor, booster path) vs the scikit-learn
  wrapper's ``predict_proba`` vs a naive server that loads the model file per request;
* batch rows/s through ``ModelService.predict_batch`` (columns) vs row-by-row ``predict_proba``;
* the HTTP predict endpoint (uvicorn on 127.0.0.1, one client paced at 200 requests/s) vs a naive
  endpoint that loads the model file and predicts through the wrapper per request.

Run: ``.venv/bin/python bench/models.py``
"""

from __future__ import annotations

import socket
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import numpy as np
import uvicorn
from fastapi import FastAPI
from lightgbm import LGBMClassifier

from riskcast.api import problems
from riskcast.api.routes.models import router
from riskcast.models import serialization
from riskcast.models.records import DataRange
from riskcast.models.service import ModelService
from riskcast.models.training import Dataset, TrainingPlan

FEATURES = tuple(f"f{i}" for i in range(15))


def timings(call: Callable[[], Any], n: int) -> np.ndarray[Any, Any]:
    out = np.empty(n)
    for i in range(n):
        start = time.perf_counter()
        call()
        out[i] = time.perf_counter() - start
    return out * 1e6


def line(name: str, us: np.ndarray[Any, Any]) -> float:
    p50, p99 = np.percentile(us, [50, 99])
    print(f"  {name:<44} p50 {p50:8.1f} us   p99 {p99:8.1f} us")
    return float(p99)


def main() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20_000, 15))
    y = (X[:, 0] + X[:, 1] * X[:, 2] + rng.normal(size=len(X)) > 0).astype(np.int64)

    def model() -> LGBMClassifier:
        return LGBMClassifier(n_estimators=100, num_leaves=31, verbose=-1, random_state=0)

    plan = TrainingPlan(
        dataset=Dataset(X=X, y=y, features=FEATURES, target="y", task="classification",
                        data=DataRange(description="synthetic", rows=len(X))),
        make_model=model, algorithm="LightGBM", n_splits=2)
    with tempfile.TemporaryDirectory() as tmp:
        service = ModelService(Path(tmp), trainers={"bench": lambda options, source: plan})
        meta = service.train_sync("bench")
        path = service.registry.store.artifact_path("bench", meta.version)
        clf = service.predictor("bench").model
        row = [dict(zip(FEATURES, X[0].tolist(), strict=True))]
        x1 = X[:1]
        print("one row (100 trees, 15 features)")
        served = line("ModelService.predict (booster, dict row)",
                      timings(lambda: service.predict("bench", row), 2000))
        line("booster_.predict (1x15 array)", timings(lambda: clf.booster_.predict(x1), 2000))
        wrapper = line("sklearn wrapper predict_proba",
                       timings(lambda: clf.predict_proba(x1), 2000))
        naive = line("naive: load file + predict_proba per request",
                     timings(lambda: serialization.load(path).predict_proba(x1), 50))
        print(f"  p99 ratios: wrapper/served {wrapper / served:.1f}x, "
              f"naive/served {naive / served:.0f}x")

        big = rng.normal(size=(100_000, 15))
        columns = {f: big[:, j].tolist() for j, f in enumerate(FEATURES)}
        start = time.perf_counter()
        service.predict_batch("bench", columns=columns)
        batch = len(big) / (time.perf_counter() - start)
        start = time.perf_counter()
        clf.booster_.predict(big)
        booster = len(big) / (time.perf_counter() - start)
        start = time.perf_counter()
        for i in range(2000):
            clf.predict_proba(big[i:i + 1])
        naive_rows = 2000 / (time.perf_counter() - start)
        print("batch (100,000 rows)")
        print(f"  ModelService.predict_batch (columns)          {batch:12,.0f} rows/s")
        print(f"  booster_.predict on the array alone           {booster:12,.0f} rows/s")
        print(f"  naive row by row predict_proba                {naive_rows:12,.0f} rows/s")
        print(f"  ratio batch/naive {batch / naive_rows:.0f}x")
        http(service, path, row)
        service.registry.close()


def http(service: ModelService, path: Path, row: list[dict[str, float]]) -> None:
    app = FastAPI()
    app.state.runtime = SimpleNamespace(models=service)
    problems.install(app)
    app.include_router(router)

    @app.post("/naive")
    async def naive(body: dict[str, Any]) -> dict[str, Any]:
        model = serialization.load(path)
        x = np.array([[r[f] for f in FEATURES] for r in body["rows"]])
        return {"probabilities": model.predict_proba(x)[:, 1].tolist()}

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    with httpx.Client(base_url=base) as client:
        while not server.started:
            time.sleep(0.01)
        print("HTTP predict, one row, one client paced at 200 requests/s")
        p99 = {}
        for name, url, n in (("POST /api/v1/models/bench/predict", "/api/v1/models/bench/predict",
                              1000), ("naive: load file per request", "/naive", 100)):
            lat = np.empty(n)
            start = time.perf_counter()
            for i in range(n):
                due = start + i / 200
                wait = due - time.perf_counter()
                if wait > 0:
                    time.sleep(wait)
                t0 = time.perf_counter()
                client.post(url, json={"rows": row}).raise_for_status()
                lat[i] = (time.perf_counter() - t0) * 1e6
            p99[name] = line(name, lat)
        served, naive_p99 = p99.values()
        print(f"  p99 ratio naive/served {naive_p99 / served:.1f}x")
    server.should_exit = True
    thread.join()


if __name__ == "__main__":
    main()
