"""Derivations run after commits, coalesce, survive failures, and publish like readings."""

from __future__ import annotations

import asyncio

import pytest

from riskcast.core.readings import ReadingIn
from riskcast.core.sites import Site
from riskcast.packs.generic.dewpoint import dew_point
from riskcast.pipeline import Pipeline
from riskcast.pipeline.derive import DeriveContext

pytestmark = pytest.mark.anyio
T0 = 1_782_907_200.0


def obs(variable: str, value: float, dt: float, site: str = "s1") -> ReadingIn:
    return ReadingIn(site=site, variable=variable, value=value, time=T0 + dt)


async def test_dew_point_derived_where_both_inputs_exist(pipeline: Pipeline) -> None:
    listener = pipeline.bus.listen()
    await pipeline.ingest([obs("temp_c", 20.0, 0), obs("rh_pct", 50.0, 0),
                           obs("temp_c", 21.0, 60)])
    await pipeline.derive.drained()
    points = await pipeline.storage.read_series("s1", "dewpoint_c", 0, 2**62, limit=10)
    assert [(p.time, round(p.value, 2), p.source) for p in points] == [
        (int(T0 * 1e6), 9.26, "derived:generic.dewpoint")]
    await pipeline.ingest([obs("rh_pct", 60.0, 60)])  # the late partner completes the pair
    await pipeline.derive.drained()
    points = await pipeline.storage.read_series("s1", "dewpoint_c", 0, 2**62, limit=10)
    assert len(points) == 2 and points[1].value == pytest.approx(dew_point(21.0, 60.0))
    published = []
    async for event in listener:
        readings = event.data.get("readings", []) if isinstance(event.data, dict) else []
        published += [r["variable"] for r in readings]
        if published.count("dewpoint_c") == 2:
            break
    assert published.count("dewpoint_c") == 2


async def test_a_failing_derivation_does_not_stop_the_others(pipeline: Pipeline) -> None:
    class Boom:
        name = "boom"
        inputs = frozenset({"temp_c"})
        outputs = frozenset({"x"})
        calls = 0

        async def derive(self, ctx: DeriveContext, site: Site, start: int, end: int) -> None:
            Boom.calls += 1
            raise RuntimeError("broken derivation")

    generic = pipeline.packs.packs["generic"]
    generic.derivations = [Boom(), *generic.derivations]
    try:
        await pipeline.ingest([obs("temp_c", 10.0, 0), obs("rh_pct", 80.0, 0)])
        await pipeline.derive.drained()
        assert Boom.calls == 1 and pipeline.derive.failures == 1
        assert len(await pipeline.storage.read_series("s1", "dewpoint_c", 0, 2**62,
                                                      limit=5)) == 1
    finally:
        generic.derivations = generic.derivations[1:]


async def test_touches_coalesce_into_one_run(pipeline: Pipeline) -> None:
    await asyncio.gather(*(pipeline.ingest([obs("temp_c", 10.0 + k, k), obs("rh_pct", 70, k)])
                           for k in range(20)))
    await pipeline.derive.drained()
    assert pipeline.derive.runs < 20
    assert len(await pipeline.storage.read_series("s1", "dewpoint_c", 0, 2**62,
                                                  limit=50)) == 20
