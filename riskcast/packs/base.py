"""What a pack declares: its variables, derived series, default rules, models, simulator.

A pack is a folder ``riskcast/packs/<name>/`` whose ``__init__.py`` defines ``PACK``, a
:class:`Pack`. Third-party packs register the same object under the ``riskcast.packs``
entry point.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import msgspec

from riskcast.core.variables import NAME_PATTERN, Variable
from riskcast.exceptions import ConfigError

if TYPE_CHECKING:
    from riskcast.ingest.simulator import SimulatedSite
    from riskcast.pipeline.derive import Derivation


class ServedModel(msgspec.Struct, frozen=True, kw_only=True):
    """A registered model the live pipeline serves on the pack's sites: after each commit
    it predicts with the model's ``production`` version (features from the series the version
    names) and writes the result to ``variable``, a derived variable of the pack."""

    name: str
    variable: str


class Pack(msgspec.Struct, kw_only=True):
    """A domain: variables with units and ranges, derived series, hooks.

    ``simulator``, when given, is a callable ``(site_index, rng_seed) -> SimulatedSite``
    used by ``riskcast serve --simulate``.
    """

    name: str
    title: str
    description: str = ""
    variables: list[Variable] = []
    #: Names of series the pack computes, each also listed in ``variables`` as ``derived``.
    derived: list[str] = []
    #: Default alert rules, as the alerts engine will load them (plain dicts for now).
    rules: list[dict[str, Any]] = []
    simulator: Callable[[int, int], SimulatedSite] | None = None
    #: Computations of derived series, run after commits that touch their inputs.
    derivations: list[Derivation] = []
    #: Hints for the dashboard: which variable colours a site, which to chart first.
    dashboard: dict[str, Any] = {}
    #: Models served live on the pack's sites (see :mod:`riskcast.pipeline.predictions`).
    models: list[ServedModel] = []

    def __post_init__(self) -> None:
        if not NAME_PATTERN.match(self.name):
            raise ConfigError(f"pack name {self.name!r}: lower case letters, digits and _")
        names = [v.name for v in self.variables]
        if len(names) != len(set(names)):
            raise ConfigError(f"pack {self.name}: a variable is declared twice")
        by_name = {v.name: v for v in self.variables}
        for name in self.derived:
            if name not in by_name or not by_name[name].derived:
                raise ConfigError(
                    f"pack {self.name}: derived series {name!r} needs a variable with derived=True")
        for derivation in self.derivations:
            loops = derivation.inputs & derivation.outputs
            if loops:
                raise ConfigError(f"pack {self.name}: derivation {derivation.name} reads its "
                                  f"own output {sorted(loops)}")
            unknown = derivation.outputs - by_name.keys()
            if unknown:
                raise ConfigError(f"pack {self.name}: derivation {derivation.name} writes "
                                  f"undeclared variables {sorted(unknown)}")
        for served in self.models:
            if served.variable not in by_name or not by_name[served.variable].derived:
                raise ConfigError(f"pack {self.name}: model {served.name} writes "
                                  f"{served.variable!r}, which needs a variable with derived=True")
        self.variables = [v if v.pack else msgspec.structs.replace(v, pack=self.name)
                          for v in self.variables]

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name, "title": self.title, "description": self.description,
            "variables": [v.name for v in self.variables], "derived": list(self.derived),
            "rules": len(self.rules), "simulator": self.simulator is not None,
            "models": [{"name": m.name, "variable": m.variable} for m in self.models],
            "dashboard": self.dashboard,
        }
