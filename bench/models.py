"""Model predictions: one row and batches, the served path against naive baselines.

A 100-tree LightGBM classifier on 15 features (synthetic data), registered through
:class:`~riskcast.models.service.ModelService`. Measures, in one run:

* one row through ``ModelService.predict`` (cached predictor, booster path) vs the scikit-learn
  wrapper's ``predict_proba`` vs a naive server that loads the model file per request;
* one online prediction through the pipeline path (``OnlinePredictions``: the 15 newest values
  read from SQLite, predicted, the prediction committed and published);
* batch rows/s: ``ModelService.predict_batch`` (columns; the compiled library once built), the
  booster alone, the TL2cgen-compiled library alone, ONNX Runtime (when ``onnxruntime`` and
  ``onnxmltools`` are installed; not part of riskcast) and naive row-by-row ``predict_proba``,
  every output checked against the booster's;
* the HTTP predict endpoint (uvicorn on 127.0.0.1, one client paced at 200 requests/s) vs a naive
  endpoint that loads the model file and predicts through the wrapper per request.

Run: ``.venv/bin/python bench/models.py``
"""

from __future__ import annotations

import asyncio
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
from riskcast.bus.memory import MemoryBus
from riskcast.core.readings import ReadingIn
from riskcast.core.sites import Site
from riskcast.core.variables import Variable
from riskcast.models import serialization
from riskcast.models.predict import Predictor, to_matrix
from riskcast.models.records import DataRange
from riskcast.models.service import ModelService
from riskcast.models.training import Dataset, TrainingPlan
from riskcast.packs.base import Pack, ServedModel
from riskcast.packs.registry import PackSet
from riskcast.pipeline import Pipeline
from riskcast.settings import Settings
from riskcast.storage.sqlite import SqliteStorage

FEATURES = tuple(f"f{i}" for i in range(15))  # also the served variables' names


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

        pipeline_path(service, Path(tmp), X[:1])
        batches(service, clf, rng)
        http(service, path, row)
        service.registry.close()


def interleaved(calls: dict[str, Callable[[], Any]], rows: int, rounds: int = 7,
                ) -> dict[str, float]:
    """Rows per second of each call, best of ``rounds``; the calls take turns in every round,
    so a burst of load from elsewhere on the shared machine hits them all alike."""
    best = dict.fromkeys(calls, float("inf"))
    for _ in range(rounds):
        for name, call in calls.items():
            start = time.perf_counter()
            call()
            best[name] = min(best[name], time.perf_counter() - start)
    return {name: rows / seconds for name, seconds in best.items()}


def batches(service: ModelService, clf: LGBMClassifier, rng: np.random.Generator) -> None:
    big = rng.normal(size=(100_000, 15))
    columns = {f: big[:, j].tolist() for j, f in enumerate(FEATURES)}
    booster = clf.booster_
    expected = booster.predict(big)
    predictor = service.predictor("bench")
    # The served path without a library: the same version through its booster.
    plain = Predictor(predictor.meta, predictor.model)
    start = time.perf_counter()
    compiled_ok = service.compile(predictor)
    print(f"batch (100,000 rows; best of 7 interleaved rounds; compile "
          f"{time.perf_counter() - start:.1f} s, cached by checksum)")
    got = np.asarray(service.predict_batch("bench", columns=columns)["probabilities"])
    assert np.abs(got - expected).max() <= 1e-12, "compiled path differs from the booster"
    calls: dict[str, Callable[[], Any]] = {
        "served batch path through the booster (no library)":
            lambda: plain.predict(to_matrix(FEATURES, columns=columns)),
        "ModelService.predict_batch, compiled (columns)":
            lambda: service.predict_batch("bench", columns=columns),
        "booster_.predict on the array alone": lambda: booster.predict(big)}
    if compiled_ok and predictor.compiled is not None:
        lib = predictor.compiled
        assert np.abs(lib.predict(big) - expected).max() <= 1e-12
        calls["TL2cgen library on the array alone"] = lambda: lib.predict(big)
    onnx = onnx_session(booster)
    if onnx is None:
        print("  (ONNX Runtime: pip install onnxruntime onnxmltools to compare)")
    else:
        big32 = big.astype(np.float32)
        out = onnx.run(None, {"x": big32})[1]
        assert np.abs(np.asarray(out)[:, 1] - expected).max() <= 1e-5  # float32 inputs
        session = onnx
        calls["ONNX Runtime on the array alone (float32)"] = lambda: session.run(
            None, {"x": big32})
    rates = interleaved(calls, len(big))
    del onnx, calls
    start = time.perf_counter()
    for i in range(2000):
        clf.predict_proba(big[i:i + 1])
    rates["naive row by row predict_proba"] = 2000 / (time.perf_counter() - start)
    for name, rate in rates.items():
        print(f"  {name:<52} {rate:12,.0f} rows/s")
    served = rates["ModelService.predict_batch, compiled (columns)"]
    plain_rate = rates["served batch path through the booster (no library)"]
    lib_rate = rates.get("TL2cgen library on the array alone", 0.0)
    array_rate = rates["booster_.predict on the array alone"]
    naive_rate = rates["naive row by row predict_proba"]
    print(f"  ratios: compiled/booster, served {served / plain_rate:.2f}x; on the array "
          f"{lib_rate / array_rate:.2f}x; served compiled/naive {served / naive_rate:.0f}x")


def onnx_session(booster: Any) -> Any:
    try:
        import onnxruntime as ort  # type: ignore[import-untyped, unused-ignore]
        from onnxmltools import convert_lightgbm  # type: ignore[import-untyped, unused-ignore]
        from onnxmltools.convert.common.data_types import (  # type: ignore[import-untyped, unused-ignore]
            FloatTensorType,
        )
    except ImportError:
        return None
    model = convert_lightgbm(booster, initial_types=[("x", FloatTensorType([None, 15]))],
                             zipmap=False, target_opset=15)
    options = ort.SessionOptions()
    options.log_severity_level = 3
    # Its idle threads would otherwise spin and slow what is measured after it.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(model.SerializeToString(), options,
                                providers=["CPUExecutionProvider"])


def pipeline_path(service: ModelService, tmp: Path, x: np.ndarray[Any, Any]) -> None:
    """One online prediction as the pipeline makes it, on SQLite: read the site's 15 latest
    values, predict with production, commit the prediction and publish it."""
    asyncio.run(_pipeline_path(service, tmp, x))


async def _pipeline_path(service: ModelService, tmp: Path, x: np.ndarray[Any, Any]) -> None:
    variables = [Variable(name=f, unit="1") for f in FEATURES]
    pack = Pack(name="bench", title="bench", variables=[*variables, Variable(
        name="pred_bench", unit="1", derived=True)], derived=["pred_bench"],
        models=[ServedModel(name="bench", variable="pred_bench")])
    storage = SqliteStorage(tmp / "pipeline.db", synchronous="normal")
    await storage.open()
    pipeline = Pipeline(storage, MemoryBus(), PackSet([pack]), Settings(data_dir=tmp))
    pipeline.predictions.attach(service)
    await pipeline.start()
    await service.deploy("bench", 1)
    await pipeline.put_site(Site(id="b1", pack="bench"))
    t0 = 1_782_907_200_000_000
    await pipeline.ingest([ReadingIn(site="b1", variable=f, value=float(v), time=t0 / 1e6)
                           for f, v in zip(FEATURES, x[0], strict=True)])
    await pipeline.predictions.drained()
    predictions = pipeline.predictions
    site = pipeline.sites["b1"]
    predictor = service.predictor("bench", "production")
    compute, whole = np.empty(1000), np.empty(1000)
    for i in range(1000):
        start = time.perf_counter()
        found = await predictions._feature_row(predictor, site, t0 + i)
        assert found is not None
        predictor.scores(found[0][None, :])
        compute[i] = time.perf_counter() - start
        start = time.perf_counter()
        await predictions._serve_estimator("bench", "pred_bench", site, t0 + i, predictor, None)
        whole[i] = time.perf_counter() - start
    print("one online prediction through the pipeline (SQLite)")
    line("feature row (newest values seen) + predict", compute * 1e6)
    line("... + commit (group commit) + publish", whole * 1e6)
    await pipeline.aclose()
    await storage.aclose()


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
