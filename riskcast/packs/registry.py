"""Finding packs: built-ins by scanning ``riskcast/packs/``, others by entry point."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterable
from importlib.metadata import entry_points

from riskcast.core.variables import VariableRegistry
from riskcast.exceptions import ConfigError
from riskcast.packs.base import Pack

ENTRY_POINT_GROUP = "riskcast.packs"


def builtin_pack_names() -> list[str]:
    """Names of the pack folders shipped in ``riskcast/packs/``."""
    import riskcast.packs as packs

    return sorted(m.name for m in pkgutil.iter_modules(packs.__path__) if m.ispkg)


def discover() -> dict[str, Pack]:
    """Every installed pack by name: built-ins first, then entry points."""
    found: dict[str, Pack] = {}
    for name in builtin_pack_names():
        module = importlib.import_module(f"riskcast.packs.{name}")
        pack = getattr(module, "PACK", None)
        if pack is not None:
            found[pack.name] = _checked(pack, f"riskcast.packs.{name}")
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        pack = ep.load()
        if pack.name in found:
            raise ConfigError(f"pack {pack.name!r} from entry point {ep.value} is already loaded")
        found[pack.name] = _checked(pack, ep.value)
    return found


def _checked(pack: object, origin: str) -> Pack:
    if not isinstance(pack, Pack):
        raise ConfigError(f"{origin}: PACK is not a riskcast.packs.base.Pack")
    return pack


class PackSet:
    """The packs a server runs, and the variables they declare."""

    def __init__(self, packs: Iterable[Pack]) -> None:
        self.packs = {p.name: p for p in packs}
        self.variables = VariableRegistry()
        for pack in self.packs.values():
            for variable in pack.variables:
                self.variables.add(variable)

    @classmethod
    def load(cls, names: Iterable[str] = ()) -> PackSet:
        """The named packs, or every installed one when ``names`` is empty."""
        available = discover()
        wanted = list(names) or list(available)
        missing = [n for n in wanted if n not in available]
        if missing:
            raise ConfigError(
                f"pack(s) not installed: {', '.join(missing)} "
                f"(installed: {', '.join(sorted(available))})")
        return cls(available[n] for n in wanted)
