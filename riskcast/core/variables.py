"""Variables: measured or derived quantities with a unit and valid ranges, declared by packs."""

from __future__ import annotations

import math
import re

import msgspec

from riskcast.exceptions import ConfigError

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,63}$")

#: Quality codes as stored. Worse is larger, so ``max`` combines two flags.
GOOD, SUSPECT, BAD = 0, 1, 2
QUALITY_NAMES = ("good", "suspect", "bad")
QUALITY_CODES = {name: code for code, name in enumerate(QUALITY_NAMES)}


class Variable(msgspec.Struct, frozen=True, kw_only=True):
    """A quantity: name, unit, hard limits (outside: ``bad``) and soft limits (``suspect``).

    >>> v = Variable(name="rh_pct", unit="%", valid_min=0, valid_max=100)
    >>> v.quality_of(50.0), v.quality_of(101.0)
    (0, 2)
    """

    name: str
    unit: str
    description: str = ""
    valid_min: float = -math.inf
    valid_max: float = math.inf
    soft_min: float = -math.inf
    soft_max: float = math.inf
    #: ``True`` for series a pack computes (FWI, WQI, predictions) rather than measures.
    derived: bool = False
    pack: str = ""

    def __post_init__(self) -> None:
        if not NAME_PATTERN.match(self.name):
            raise ConfigError(
                f"variable name {self.name!r}: use lower case letters, digits and _ (max 64)")
        if self.valid_min > self.valid_max:
            raise ConfigError(f"variable {self.name}: valid_min > valid_max")
        if self.soft_min > self.soft_max:
            raise ConfigError(f"variable {self.name}: soft_min > soft_max")

    def quality_of(self, value: float) -> int:
        """``BAD`` outside the valid range, ``SUSPECT`` outside the soft range, else ``GOOD``."""
        if value < self.valid_min or value > self.valid_max:
            return BAD
        if value < self.soft_min or value > self.soft_max:
            return SUSPECT
        return GOOD

    def describe(self) -> dict[str, object]:
        """A JSON-friendly description (infinite limits as ``None``)."""
        def finite(x: float) -> float | None:
            return x if math.isfinite(x) else None

        return {
            "name": self.name, "unit": self.unit, "description": self.description,
            "valid_min": finite(self.valid_min), "valid_max": finite(self.valid_max),
            "soft_min": finite(self.soft_min), "soft_max": finite(self.soft_max),
            "derived": self.derived, "pack": self.pack,
        }


class VariableRegistry:
    """Variables by name. Two packs may declare the same name only with the same unit."""

    def __init__(self) -> None:
        self._by_name: dict[str, Variable] = {}

    def add(self, variable: Variable) -> None:
        known = self._by_name.get(variable.name)
        if known is not None:
            if known.unit != variable.unit:
                raise ConfigError(
                    f"variable {variable.name}: pack {variable.pack!r} declares unit "
                    f"{variable.unit!r} but pack {known.pack!r} declared {known.unit!r}")
            return
        self._by_name[variable.name] = variable

    def get(self, name: str) -> Variable | None:
        return self._by_name.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(sorted(self._by_name.values(), key=lambda v: v.name))

    def __len__(self) -> int:
        return len(self._by_name)
