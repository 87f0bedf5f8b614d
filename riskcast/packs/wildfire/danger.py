"""Fire danger classes from the Fire Weather Index (FWI), with documented breakpoints.

A :class:`DangerScheme` has a name, strictly increasing breakpoints and one label per class, so
``len(labels) == len(breakpoints) + 1``. Class ``i`` holds the values ``v`` with
``breakpoints[i - 1] <= v < breakpoints[i]``: **a value exactly on a breakpoint goes to the higher
class** (EFFIS publishes its ranges with the upper bound excluded).

Built-in scheme:

* :data:`EFFIS`, the European Forest Fire Information System's harmonised classes (JRC, "Fire
  Danger Forecast" technical background): very low < 5.2, low 5.2-11.2, moderate 11.2-21.3,
  high 21.3-38.0, very high 38.0-50.0, extreme >= 50.0. Our SCIENCE.md marks these values
  [unverified]. They match the EFFIS page as we found it stored, but check the live page before
  quoting them. EFFIS tuned them for southern Europe; other regions calibrate their own.

No Canadian scheme ships. Canada's national maps show FWI classes chosen by each province and
territory, and we found no single CIFFC or NRCan table to cite. Agencies pass their own
breakpoints instead (the numbers here only illustrate)::

    LOCAL = DangerScheme(
        "local",
        breakpoints=(5.0, 10.0, 20.0, 30.0),
        labels=("low", "moderate", "high", "very high", "extreme"),
        source="the agency's own table",
    )
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final

import numpy as np
import numpy.typing as npt

from riskcast.exceptions import ValidationError

__all__ = ["EFFIS", "SCHEMES", "DangerScheme", "classify", "label"]


@dataclass(frozen=True, slots=True)
class DangerScheme:
    """Named FWI breakpoints and class labels; refuses inconsistent definitions.

    >>> scheme = DangerScheme("demo", (10.0, 30.0), ("low", "high", "extreme"))
    >>> scheme.classify([0.0, 10.0, 29.9, 30.0]).tolist()
    [0, 1, 1, 2]
    >>> scheme.label(2)
    'extreme'
    """

    name: str
    breakpoints: tuple[float, ...]
    labels: tuple[str, ...]
    source: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise ValidationError("a danger scheme needs a non-empty name", field="name")
        try:
            breakpoints = tuple(float(b) for b in self.breakpoints)
        except (TypeError, ValueError) as err:
            raise ValidationError(
                f"scheme {self.name!r}: breakpoints must be numbers ({err})", field="breakpoints"
            ) from err
        labels = tuple(self.labels)
        if not breakpoints:
            raise ValidationError(
                f"scheme {self.name!r} needs at least one breakpoint", field="breakpoints"
            )
        for position, value in enumerate(breakpoints):
            if not math.isfinite(value):
                raise ValidationError(
                    f"scheme {self.name!r}: breakpoints[{position}] = {value!r} is not finite",
                    field="breakpoints",
                )
        for position, (low, high) in enumerate(itertools.pairwise(breakpoints)):
            if not low < high:
                raise ValidationError(
                    f"scheme {self.name!r}: breakpoints must be strictly increasing, but "
                    f"breakpoints[{position}] = {low!r} and breakpoints[{position + 1}] = {high!r}",
                    field="breakpoints",
                )
        if len(labels) != len(breakpoints) + 1:
            raise ValidationError(
                f"scheme {self.name!r} has {len(breakpoints)} breakpoints, so it needs "
                f"{len(breakpoints) + 1} labels, got {len(labels)}",
                field="labels",
            )
        if any(not isinstance(text, str) or not text.strip() for text in labels):
            raise ValidationError(f"scheme {self.name!r}: labels must be non-empty", field="labels")
        if len(set(labels)) != len(labels):
            raise ValidationError(f"scheme {self.name!r}: labels must be distinct", field="labels")
        object.__setattr__(self, "breakpoints", breakpoints)
        object.__setattr__(self, "labels", labels)

    def classify(self, fwi: npt.ArrayLike) -> npt.NDArray[np.intp]:
        """Class index of each FWI value, same shape; a value on a breakpoint goes up a class.

        FWI must be finite and non-negative; anything else raises ValidationError(field="fwi").
        """
        values = np.asarray(fwi, dtype=np.float64)
        bad = ~(values >= 0.0) | ~np.isfinite(values)
        if bad.any():
            where = np.unravel_index(int(np.argmax(bad)), bad.shape)
            index = f"[{', '.join(str(int(i)) for i in where)}]" if where else ""
            value = values[where].item()
            problem = "is not finite" if not math.isfinite(value) else "is negative"
            raise ValidationError(f"fwi{index} = {value!r} {problem}", field="fwi")
        edges = np.asarray(self.breakpoints)
        return np.asarray(np.searchsorted(edges, values, side="right"), dtype=np.intp)

    def label(self, index: int) -> str:
        """The label of class ``index`` (0 is the lowest class)."""
        if isinstance(index, bool) or not 0 <= int(index) < len(self.labels):
            raise ValidationError(
                f"scheme {self.name!r} has classes 0..{len(self.labels) - 1}, got {index!r}",
                field="index",
            )
        return self.labels[int(index)]


#: EFFIS harmonised fire danger classes (JRC, EFFIS "Fire Danger Forecast"); [unverified] in
#: SCIENCE.md, see the module docstring.
EFFIS: Final = DangerScheme(
    name="effis",
    breakpoints=(5.2, 11.2, 21.3, 38.0, 50.0),
    labels=("very low", "low", "moderate", "high", "very high", "extreme"),
    source="EFFIS (European Forest Fire Information System, JRC): Fire Danger Forecast, "
    "FWI ranges with the upper bound excluded",
)

#: The built-in schemes by name.
SCHEMES: Final = MappingProxyType({EFFIS.name: EFFIS})


def classify(fwi: npt.ArrayLike, scheme: DangerScheme = EFFIS) -> npt.NDArray[np.intp]:
    """Danger class index of each FWI value under ``scheme`` (EFFIS by default).

    Exact breakpoint values go to the higher class, as EFFIS excludes upper bounds. The last
    rows of the Van Wagner & Pickett (1985) table give FWI 2.8, 5.8 and 7.9:

    >>> classify([2.8, 5.8, 7.9, 5.2, 50.0]).tolist()
    [0, 1, 1, 1, 5]
    """
    return scheme.classify(fwi)


def label(index: int, scheme: DangerScheme = EFFIS) -> str:
    """Label of class ``index`` under ``scheme`` (EFFIS by default).

    FWI 52.6 on 7 May of the Van Wagner & Pickett (1985) table is EFFIS "extreme":

    >>> label(int(classify(52.6)))
    'extreme'
    """
    return scheme.label(index)
