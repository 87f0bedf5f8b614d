"""Models: list, show, train (a background job), predict, predict in batch, drift, deploy,
roll back, metrics, shadow comparison. The service is ``request.app.state.runtime.models``
(:class:`ModelService`)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Annotated, Any, Literal

import msgspec
from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from riskcast.api.problems import problem
from riskcast.core.clock import parse_time
from riskcast.exceptions import ValidationError
from riskcast.models.predict import MAX_ROWS
from riskcast.security.audit import record
from riskcast.security.keys import Role

if TYPE_CHECKING:
    from riskcast.models.service import ModelService

router = APIRouter(prefix="/api/v1/models", tags=["models"])
VersionQuery = Annotated[str | None, Query(
    description="a version number, `production`, `staging` or `latest` "
                "[default: production when set, else latest]")]


def _service(request: Request) -> ModelService:
    service: ModelService = request.app.state.runtime.models
    return service


class TrainBody(BaseModel):
    options: dict[str, Any] = Field(default_factory=dict,
                                    examples=[{"features": "weather", "algorithm": "LightGBM"}])
    by: str = Field(default="api", max_length=200, description="who asked")


class PredictBody(BaseModel):
    rows: list[dict[str, float] | list[float]] = Field(
        min_length=1, max_length=MAX_ROWS,
        description="feature rows, by name or in the version's feature order",
        examples=[[{"Temperature": 34, "RH": 45, "Ws": 16, "Rain": 0}]])


class BatchBody(msgspec.Struct, forbid_unknown_fields=True):
    """Rows in the version's feature order, or columns by feature name (not both); or a
    stored range: ``sites`` (or ``pack``), ``from`` and ``to``, run as a background job."""

    rows: list[list[float]] | None = None
    columns: dict[str, list[float]] | None = None
    sites: list[str] | None = None
    pack: str | None = None
    from_: str | None = msgspec.field(default=None, name="from")
    to: str | None = None
    version: str | int | None = None
    by: str = "api"

    @property
    def is_range(self) -> bool:
        return (self.sites is not None or self.pack is not None or self.from_ is not None
                or self.to is not None)


class LearnBody(BaseModel):
    rows: list[dict[str, float]] = Field(min_length=1, max_length=MAX_ROWS)
    labels: list[bool] = Field(min_length=1, max_length=MAX_ROWS)


class OnlineRows(BaseModel):
    rows: list[dict[str, float]] = Field(min_length=1, max_length=MAX_ROWS)


class OutcomesBody(BaseModel):
    rows: list[dict[str, float] | list[float]] = Field(min_length=1, max_length=MAX_ROWS)
    labels: list[float | int | str | bool] = Field(
        min_length=1, max_length=MAX_ROWS, description="the true class or value of each row")


class MemberBody(BaseModel):
    model: str
    version: int = Field(ge=1)
    weight: float = Field(default=1.0, gt=0)


class EnsembleBody(BaseModel):
    members: list[MemberBody] = Field(min_length=2, max_length=20)
    by: str = Field(default="api", max_length=200)


class AliasBody(BaseModel):
    version: int = Field(ge=1)
    alias: str = Field(default="production", examples=["production", "staging"])
    by: str = Field(default="api", max_length=200)


class RollbackBody(BaseModel):
    alias: str = Field(default="production", examples=["production", "staging"])
    by: str = Field(default="api", max_length=200)


async def _batch_body(request: Request) -> BatchBody:
    try:
        return msgspec.json.decode(await request.body(), type=BatchBody)
    except msgspec.ValidationError as err:
        raise ValidationError(f"body: {err}", field="body") from err
    except msgspec.DecodeError as err:
        raise ValidationError(f"body is not JSON: {err}", field="body") from err


def _ref(version: str | None) -> str | int | None:
    return int(version) if version is not None and version.isdigit() else version


@router.get("", summary="Every model, with its versions count and aliases")
async def list_models(request: Request) -> dict[str, Any]:
    return {"models": await asyncio.to_thread(_service(request).list)}


@router.get("/jobs/{job_id}",
            summary="A job (training or batch prediction): state, progress, version, result")
async def get_job(job_id: str, request: Request) -> dict[str, Any]:
    return _service(request).job(job_id).to_dict()


@router.get("/{name}", summary="A model: versions, aliases and alias moves")
async def show_model(name: str, request: Request) -> dict[str, Any]:
    return await asyncio.to_thread(_service(request).show, name)


@router.post("/{name}/train", status_code=202,
             summary="Train a new version in the background; answers with the job")
async def train(name: str, request: Request, body: TrainBody | None = None) -> dict[str, Any]:
    body = body or TrainBody()
    job = await _service(request).train(name, body.options, by=body.by)
    return job.to_dict()


@router.post("/{name}/ensemble", status_code=201,
             summary="Register a weighted vote of registered versions as a new version")
async def ensemble(name: str, body: EnsembleBody, request: Request) -> dict[str, Any]:
    members = [(m.model, m.version, m.weight) for m in body.members]
    meta = await asyncio.to_thread(_service(request).ensemble, name, members, by=body.by)
    return meta.to_dict()


@router.post("/{name}/predict", summary="Predict a few rows with one version")
async def predict(
    name: str, body: PredictBody, request: Request, version: VersionQuery = None,
    level: Annotated[float | None, Query(
        gt=0, lt=1, description="coverage of the interval of a regressor (0.5, 0.8, 0.9, "
                                "0.95) [default: 0.9]")] = None,
    site: Annotated[str | None, Query(
        max_length=64, description="a forecaster's station whose learnt weights to use")] = None,
) -> dict[str, Any]:
    service = _service(request)
    await service.aservable(name, _ref(version))  # loaded off the loop on a cache miss
    return service.predict(name, body.rows, _ref(version), level=level, site=site)


@router.post("/{name}/predict/batch",
             summary="Predict up to 100,000 rows, or a stored range as a background job "
                     "(202) whose results are stored as the model's series",
             openapi_extra={"requestBody": {"required": True, "content": {
                 "application/json": {"schema": msgspec.json.schema(BatchBody)}}}})
async def predict_batch(name: str, request: Request,
                        version: VersionQuery = None) -> Any:
    body = await _batch_body(request)
    service = _service(request)
    if body.is_range:
        return _predict_range(name, body, request, version)
    # Up to 100,000 rows: off the event loop, so other requests keep being answered.
    return await asyncio.to_thread(service.predict_batch, name, rows=body.rows,
                                   columns=body.columns, ref=_ref(version))


def _predict_range(name: str, body: BatchBody, request: Request,
                   version: str | None) -> Response:
    """A stored range: writes a derived series, so an operator's job (viewers may predict
    rows)."""
    principal = getattr(request.state, "principal", None)
    if principal is not None and principal.auth and principal.role < Role.operator:
        return problem(403, "predicting a stored range writes its series: needs the operator "
                       f"role; this key is {principal.role.name}", field="sites")
    if body.rows is not None or body.columns is not None:
        raise ValidationError("give rows or columns, or a stored range, not both", field="rows")
    if body.from_ is None:
        raise ValidationError("give the start of the range", field="from")
    if body.to is None:
        raise ValidationError("give the end of the range", field="to")
    ref = body.version if body.version is not None else version
    job = _service(request).predict_range(
        request.app.state.runtime.pipeline, name, start=parse_time(body.from_, field="from"),
        end=parse_time(body.to, field="to"), sites=body.sites, pack=body.pack,
        ref=_ref(str(ref)) if ref is not None else None, by=body.by)
    record(request, "model.predict_range", name, job=job.id, version=job.version,
           sites=body.sites or [], pack=body.pack, start=body.from_, end=body.to)
    return JSONResponse(job.to_dict(), status_code=202)


@router.post("/{name}/drift", summary="PSI and KS per feature against the training reference",
             openapi_extra={"requestBody": {"required": True, "content": {
                 "application/json": {"schema": msgspec.json.schema(BatchBody)}}}})
async def drift(name: str, request: Request, version: VersionQuery = None) -> dict[str, Any]:
    body = await _batch_body(request)
    if body.columns is None:
        raise ValidationError("give recent values as columns by feature name", field="columns")
    return await asyncio.to_thread(_service(request).drift, name, body.columns, _ref(version))


@router.post("/{name}/online/learn",
             summary="Teach the online (River) learner of this name labelled rows, in order")
async def learn(name: str, body: LearnBody, request: Request) -> dict[str, Any]:
    return await asyncio.to_thread(_service(request).learn, name, body.rows, body.labels)


@router.post("/{name}/online/predict", summary="P(true) per row from the online learner")
async def predict_online(name: str, body: OnlineRows, request: Request) -> dict[str, Any]:
    return await asyncio.to_thread(_service(request).predict_online, name, body.rows)


@router.post("/{name}/outcomes",
             summary="Score a version's predictions against labels that arrived later")
async def outcomes(name: str, body: OutcomesBody, request: Request,
                   version: VersionQuery = None) -> dict[str, Any]:
    return await asyncio.to_thread(_service(request).record_outcomes, name, body.rows,
                                   body.labels, _ref(version))


class FeedbackBody(BaseModel):
    site: str = Field(max_length=64)
    time: str = Field(description="the time of the stored prediction (RFC 3339)",
                      examples=["2026-07-01T12:00:00Z"])
    label: bool | int | str | None = Field(default=None, description="the true class")
    value: float | None = Field(default=None, description="the true value (a regressor)")
    verdict: Literal["correct", "incorrect"] | None = Field(
        default=None, description="the prediction was right or wrong (binary classifiers)")
    by: str = Field(default="api", max_length=200,
                    description="who says so (the key's name when auth is on)")


@router.post("/{name}/feedback",
             summary="An operator's truth about a stored prediction: feeds the version's "
                     "live metrics")
async def feedback(name: str, body: FeedbackBody, request: Request) -> dict[str, Any]:
    principal = getattr(request.state, "principal", None)
    by = principal.name if principal is not None and principal.auth else body.by
    return await _service(request).feedback(
        request.app.state.runtime.pipeline, name, site=body.site,
        time=parse_time(body.time, field="time"), label=body.label, value=body.value,
        verdict=body.verdict, by=by)


@router.get("/{name}/feedback", summary="The latest feedback on stored predictions")
async def feedback_list(name: str, request: Request,
                        limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> dict[str, Any]:
    return await asyncio.to_thread(_service(request).feedback_list, name, limit)


@router.get("/{name}/performance", summary="Live metrics per version, in all and by day")
async def performance(name: str, request: Request) -> dict[str, Any]:
    return await asyncio.to_thread(_service(request).performance, name)


@router.get("/{name}/status",
            summary="Production and staging versions, when deployed, live prediction "
                    "counters, the shadow summary and the latest drift figures")
async def status(name: str, request: Request) -> dict[str, Any]:
    return await _service(request).astatus(name, request.app.state.runtime.pipeline.predictions)


@router.get("/{name}/shadow",
            summary="Staging scored beside production on the live rows: agreement, "
                    "differences, and each version's live metrics")
async def shadow(name: str, request: Request) -> dict[str, Any]:
    return await asyncio.to_thread(_service(request).shadow_report, name)


@router.post("/{name}/deploy", summary="Point an alias at a version")
async def deploy(name: str, body: AliasBody, request: Request) -> dict[str, Any]:
    move = await _service(request).deploy(name, body.version, body.alias, by=body.by)
    return move.to_dict()


@router.post("/{name}/rollback", summary="Move an alias back to its previous version")
async def rollback(name: str, request: Request,
                   body: RollbackBody | None = None) -> dict[str, Any]:
    body = body or RollbackBody()
    move = await _service(request).rollback(name, body.alias, by=body.by)
    return move.to_dict()


@router.get("/{name}/metrics", summary="A version's cross-validated metrics beside its baseline")
async def metrics(name: str, request: Request, version: VersionQuery = None) -> dict[str, Any]:
    return await asyncio.to_thread(_service(request).metrics, name, _ref(version))
