"""What this server knows: packs, variables, and its own state."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from riskcast.api.deps import runtime

router = APIRouter(prefix="/api/v1", tags=["catalog"])


@router.get("/variables", summary="Variables declared by the loaded packs")
async def variables(request: Request) -> dict[str, Any]:
    return {"variables": [v.describe() for v in runtime(request).packs.variables]}


@router.get("/packs", summary="Loaded packs")
async def packs(request: Request) -> dict[str, Any]:
    return {"packs": [p.describe() for p in runtime(request).packs.packs.values()]}


@router.get("/sensors", summary="Health of sensors heard over MQTT",
            description="Per site: last seen, messages, message rate over the last minute, "
                        "malformed messages, and battery and signal when payloads carry them.")
async def sensors(request: Request) -> dict[str, Any]:
    rt = runtime(request)
    mqtt = rt.mqtt
    return {"mqtt": mqtt.stats() if mqtt else None,
            "sensors": mqtt.sensors() if mqtt else {},
            "pollers": rt.pollers.stats() if rt.pollers else {}}


@router.get("/system", summary="Ingest, storage and stream counters")
async def system(request: Request) -> dict[str, Any]:
    return runtime(request).stats()
