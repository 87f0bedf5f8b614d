"""Packs are found by scanning, their manifests checked, their variables merged."""

from __future__ import annotations

import pytest

from riskcast.core.variables import Variable
from riskcast.exceptions import ConfigError
from riskcast.packs.base import Pack
from riskcast.packs.registry import PackSet, builtin_pack_names, discover
from riskcast.testing import check_pack


def test_every_builtin_pack_passes_check_pack() -> None:
    packs = discover()
    assert "generic" in packs
    for pack in packs.values():
        check_pack(pack)
    assert set(packs) <= set(builtin_pack_names())


def test_unknown_pack_named_in_error() -> None:
    with pytest.raises(ConfigError, match="nope"):
        PackSet.load(["generic", "nope"])


def test_same_variable_twice_needs_the_same_unit() -> None:
    a = Pack(name="a", title="A", variables=[Variable(name="x", unit="m", description="d")])
    b = Pack(name="b", title="B", variables=[Variable(name="x", unit="m", description="d")])
    c = Pack(name="c", title="C", variables=[Variable(name="x", unit="ft", description="d")])
    assert len(PackSet([a, b]).variables) == 1
    with pytest.raises(ConfigError, match="unit"):
        PackSet([a, c])


def test_bad_manifests_refused() -> None:
    with pytest.raises(ConfigError):
        Pack(name="Bad Name", title="x")
    with pytest.raises(ConfigError, match="derived"):
        Pack(name="p", title="x", variables=[Variable(name="fwi", unit="1")], derived=["fwi"])
    with pytest.raises(ConfigError, match="twice"):
        Pack(name="p", title="x", variables=[Variable(name="a", unit="1"),
                                             Variable(name="a", unit="1")])


def test_check_pack_catches_a_simulator_out_of_range() -> None:
    from riskcast.core.sites import Site

    class Broken:
        def __init__(self) -> None:
            self.site = Site(id="x", pack="p")

        def step(self, t_us: int) -> dict[str, float]:
            return {"rh_pct": 140.0}

    pack = Pack(name="p", title="P", variables=[
        Variable(name="rh_pct", unit="%", description="RH", valid_max=100)],
        simulator=lambda i, seed: Broken())
    with pytest.raises(AssertionError, match="rh_pct=140"):
        check_pack(pack)
