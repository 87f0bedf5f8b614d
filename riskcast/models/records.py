"""What the registry records: model versions and alias moves."""

from __future__ import annotations

from typing import Any, Final, Literal

import msgspec

#: The aliases a version can be deployed to.
ALIASES: Final = ("production", "staging")
Task = Literal["classification", "regression"]


class DataRange(msgspec.Struct, frozen=True, kw_only=True):
    """The training data: what it is, how many rows, and its time range when it has one."""

    description: str
    rows: int
    start: str | None = None
    end: str | None = None


class ModelVersion(msgspec.Struct, frozen=True, kw_only=True):
    """One trained version of a named model.

    ``metrics`` holds ``{"protocol": ..., "model": {...}, "baseline": {...}, "baseline_name":
    ...}``: the cross-validated scores of the model beside those of its baseline.
    """

    name: str
    version: int
    task: Task
    algorithm: str
    features: tuple[str, ...]
    target: str
    data: DataRange
    description: str = ""
    hyperparameters: dict[str, Any] = msgspec.field(default_factory=dict)
    metrics: dict[str, Any] = msgspec.field(default_factory=dict)
    created_at: str = ""
    created_by: str = ""
    sha256: str = ""
    size: int = 0
    classes: tuple[Any, ...] | None = None
    #: A sample of the training rows per feature: the drift reference.
    reference: dict[str, list[float]] = msgspec.field(default_factory=dict)
    #: The series (variable) each feature comes from when served live, by feature name; a
    #: feature not named here is read from the variable of its own name. A forecaster names
    #: its one series as ``y``.
    sources: dict[str, str] = msgspec.field(default_factory=dict)
    #: Regression only: split-conformal half-widths by coverage (``"0.9": 1.7``) from the
    #: out-of-fold residuals of cross-validation (see :mod:`riskcast.models.intervals`).
    conformal: dict[str, float] = msgspec.field(default_factory=dict)

    def source_of(self, feature: str) -> str:
        """The variable a feature is read from live."""
        return self.sources.get(feature, feature)

    def to_dict(self, reference: bool = False) -> dict[str, Any]:
        """A JSON-ready dict; the drift reference only when asked for (it is large)."""
        out: dict[str, Any] = msgspec.to_builtins(self)
        if not reference:
            out.pop("reference")
        return out


def prediction_variable(name: str) -> str:
    """The derived series a served model writes: ``pred_`` and the model name in the
    variable alphabet (lower case, ``-`` and ``.`` as ``_``).

    >>> prediction_variable("wildfire-occurrence")
    'pred_wildfire_occurrence'
    """
    return "pred_" + name.lower().replace("-", "_").replace(".", "_")


class AliasMove(msgspec.Struct, frozen=True, kw_only=True):
    """An alias moved by ``by`` at ``at``: ``kind`` is ``deploy`` or ``rollback``."""

    name: str
    alias: str
    from_version: int | None
    to_version: int
    kind: Literal["deploy", "rollback"]
    by: str
    at: str

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        out: dict[str, Any] = msgspec.to_builtins(self)
        return out
