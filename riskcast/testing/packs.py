"""Checks a pack's manifest: names, units, ranges, derived series, simulator output."""

from __future__ import annotations

import math

from riskcast.packs.base import Pack


def check_pack(pack: Pack) -> None:
    """Raise AssertionError naming what is wrong with ``pack``."""
    assert isinstance(pack, Pack), f"{pack!r} is not a Pack"
    assert pack.title, f"pack {pack.name}: title is empty"
    assert pack.variables or pack.derived, f"pack {pack.name}: declares no variables"
    for v in pack.variables:
        assert v.unit, f"pack {pack.name}: variable {v.name} has no unit"
        assert v.description, f"pack {pack.name}: variable {v.name} has no description"
        assert v.pack == pack.name, f"variable {v.name} is attributed to {v.pack!r}"
    if pack.simulator is not None:
        names = {v.name for v in pack.variables}
        for index in range(3):
            sim = pack.simulator(index, 1)
            assert sim.site.pack == pack.name, f"simulated site {sim.site.id} is in another pack"
            for t in range(5):
                values = sim.step(1_782_907_200_000_000 + t * 60_000_000)
                for name, value in values.items():
                    assert name in names, f"simulator sends undeclared variable {name}"
                    assert math.isfinite(value), f"simulator sends {name}={value}"
                    var = next(v for v in pack.variables if v.name == name)
                    assert var.quality_of(value) == 0, (
                        f"simulator sends {name}={value}, outside its valid or soft range")
