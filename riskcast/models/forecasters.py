"""Next-step forecasters learnt online (River), one per station, and their servable form.

:class:`StationForecaster` is River's ``StandardScaler | LinearRegression`` on lag features of one
station's series (the ``lags`` values before the last one and the rolling mean over ``window``
steps, all relative to the last value, and for hourly data the hour of day as sine and cosine).
It predicts the *change* from the last value, so before it has learnt anything it forecasts
persistence.

**Safe format.** A River pipeline cannot go through skops (it would have to trust ``river.*``
types, which the allow-list refuses by design) and is never pickled. A forecaster version's
artifact is a skops file holding only builtins: ``{"kind": "river-station-states", "states":
{station: state}}`` where a state is :meth:`StationForecaster.state` (scaler counts, means and
variances, weights, intercept, recent history: plain numbers), and the version's
``hyperparameters`` hold the constructor options. Loading rebuilds the pipeline in code from
those options and copies the numbers in (:meth:`StationForecaster.from_state`): nothing in the
file names a class or a function, so nothing from it can run. :class:`ForecasterSet` is the
loaded, servable version.

>>> f = StationForecaster(hourly=False)
>>> f.predict_one(0) is None  # nothing seen yet
True
>>> f.learn_one(0, 5.0)
>>> f.predict_one(1)  # no change learnt yet: persistence
5.0
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping
from typing import Any, Final, Protocol

from riskcast.exceptions import MissingExtraError, ValidationError
from riskcast.models.records import ModelVersion

try:
    from river import linear_model, optim, preprocessing
except ImportError as err:  # pragma: no cover - optional
    raise MissingExtraError("river", "ml") from err

HOUR_US: Final = 3_600_000_000
#: The artifact ``kind`` of a forecaster version.
ARTIFACT_KIND: Final = "river-station-states"
#: Constructor options of :class:`StationForecaster` read from a version's hyperparameters.
OPTIONS: Final = ("lags", "window", "hourly", "learning_rate", "clip_gradient")


class Forecaster(Protocol):
    """A one-station next-step forecaster: forecast from the past, then learn the truth."""

    def predict_one(self, t: float) -> float | None:
        """The forecast for time ``t`` from what was learnt so far (None before any value)."""

    def learn_one(self, t: float, y: float) -> None:
        """Learn that the value at ``t`` was ``y`` (times strictly increasing)."""


class Persistence:
    """The baseline as a :class:`Forecaster`: the last value learnt."""

    def __init__(self) -> None:
        self.last: float | None = None

    def predict_one(self, t: float) -> float | None:
        return self.last

    def learn_one(self, t: float, y: float) -> None:
        self.last = float(y)


class StationForecaster:
    """Lag features of one station's series into River ``StandardScaler | LinearRegression``.

    ``t`` is in µs for hourly data (``hourly=True``: hour-of-day features), else any increasing
    number (a year). Gradients are clipped at ``clip_gradient``: a pollution event or a bad
    station-year must not throw the weights off.
    """

    def __init__(self, *, lags: int = 3, window: int = 6, hourly: bool = True,
                 learning_rate: float = 0.01, clip_gradient: float = 1.0) -> None:
        if lags < 1 or window < 1:
            raise ValidationError("lags and window must be at least 1", field="lags")
        self.lags = lags
        self.window = window
        self.hourly = hourly
        self.learning_rate = learning_rate
        self.clip_gradient = clip_gradient
        self.seen = 0
        self._history: deque[float] = deque(maxlen=max(lags + 1, window))
        self._pipeline = (preprocessing.StandardScaler()
                          | linear_model.LinearRegression(
                              optimizer=optim.SGD(learning_rate), intercept_lr=learning_rate,
                              clip_gradient=clip_gradient))

    @property
    def features(self) -> tuple[str, ...]:
        """Feature names in order."""
        names = (*(f"lag_{i}" for i in range(1, self.lags + 1)), f"mean_{self.window}")
        return (*names, "hour_sin", "hour_cos") if self.hourly else names

    def _x(self, t: float) -> dict[str, float]:
        past = list(self._history)
        last = past[-1]
        # Relative to the last value (the target is a change too) and rounded, so a constant
        # stretch gives exact zeros: float dust there would be blown up by the scaler. Short
        # histories are padded with the oldest value.
        x = {f"lag_{i}": round(past[max(0, len(past) - 1 - i)] - last, 9)
             for i in range(1, self.lags + 1)}
        recent = past[-self.window:]
        x[f"mean_{self.window}"] = round(sum(recent) / len(recent) - last, 9)
        if self.hourly:
            angle = 2 * math.pi * ((t / HOUR_US) % 24) / 24
            x["hour_sin"], x["hour_cos"] = math.sin(angle), math.cos(angle)
        return x

    def features_at(self, t: float) -> dict[str, float] | None:
        """The feature row a forecast for time ``t`` is made from (None before any value)."""
        return self._x(t) if self._history else None

    def predict_change(self, x: Mapping[str, float]) -> float:
        """The learnt change from the last value for feature row ``x``."""
        return float(self._pipeline.predict_one(dict(x)))

    def predict_one(self, t: float) -> float | None:
        if not self._history:
            return None
        change = float(self._pipeline.predict_one(self._x(t)))
        return self._history[-1] + change

    def learn_one(self, t: float, y: float) -> None:
        if self._history:
            self._pipeline.learn_one(self._x(t), float(y) - self._history[-1])
        self._history.append(float(y))
        self.seen += 1

    def state(self) -> dict[str, Any]:
        """The learnt state as JSON-ready values (scaler moments, weights, intercept, history)."""
        scaler = self._pipeline["StandardScaler"]
        linear = self._pipeline["LinearRegression"]
        return {"seen": self.seen, "history": list(self._history),
                "counts": {k: int(v) for k, v in scaler.counts.items()},
                "means": {k: float(v) for k, v in scaler.means.items()},
                "vars": {k: float(v) for k, v in scaler.vars.items()},
                "weights": {k: float(v) for k, v in linear._weights.items()},
                "intercept": float(linear.intercept)}

    @classmethod
    def from_state(cls, state: Mapping[str, Any], **options: Any) -> StationForecaster:
        """A forecaster restored from :meth:`state` (``options`` as given to the original).

        >>> f = StationForecaster(hourly=False)
        >>> for year, y in enumerate([6.0, 6.5, 6.1, 6.8, 6.2]):
        ...     f.learn_one(year, y)
        >>> StationForecaster.from_state(f.state(), hourly=False).predict_one(5) == f.predict_one(5)
        True
        """
        model = cls(**options)
        scaler = model._pipeline["StandardScaler"]
        linear = model._pipeline["LinearRegression"]
        try:
            model._history.extend(float(v) for v in state["history"])
            scaler.counts.update({k: int(v) for k, v in state["counts"].items()})
            scaler.means.update({k: float(v) for k, v in state["means"].items()})
            scaler.vars.update({k: float(v) for k, v in state["vars"].items()})
            for key, weight in state["weights"].items():
                linear._weights[key] = float(weight)
            linear.intercept = float(state["intercept"])
            model.seen = int(state["seen"])
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            raise ValidationError(f"forecaster state unreadable: {err}", field="state") from err
        return model


def is_forecaster_artifact(artifact: Any) -> bool:
    """Whether a loaded artifact is a forecaster version's per-station states."""
    return isinstance(artifact, Mapping) and artifact.get("kind") == ARTIFACT_KIND


class ForecasterSet:
    """A forecaster version ready to serve: a :class:`StationForecaster` per station, restored
    from the version's learnt states (stations it never saw start fresh, i.e. at persistence).

    ``station(key)`` hands out a *new* learner each call; the live pipeline keeps its own per
    site and lets it go on learning from each new reading.
    """

    def __init__(self, meta: ModelVersion, artifact: Any) -> None:
        if not is_forecaster_artifact(artifact) or not isinstance(artifact.get("states"),
                                                                   Mapping):
            raise ValidationError(f"model {meta.name} version {meta.version}: not a "
                                  "forecaster artifact", field="artifact")
        self.meta = meta
        self.states: Mapping[str, Any] = artifact["states"]
        params = meta.hyperparameters
        self.options = {k: params[k] for k in OPTIONS if k in params}
        #: The series the forecaster reads and forecasts (its target, or ``sources["y"]``).
        self.series = meta.sources.get("y", meta.target)

    def station(self, key: str) -> StationForecaster:
        """A learner for station ``key``: its learnt state if the version has one."""
        state = self.states.get(key)
        if state is None:
            return StationForecaster(**self.options)
        return StationForecaster.from_state(state, **self.options)

    def predict(self, X: Any, site: str | None = None) -> dict[str, Any]:
        """Predicted change from the last value for feature rows (the version's features, all
        relative to the last value), with the learnt weights of station ``site``."""
        if site is None or site not in self.states:
            known = ", ".join(sorted(self.states)[:10])
            raise ValidationError(
                f"{self.meta.name} is a per-station forecaster: name a station it learnt with "
                f"?site= (known: {known}); live forecasts are the series "
                f"pred_... of each site", field="site")
        learner = self.station(site)
        values = [learner.predict_change(dict(zip(self.meta.features, map(float, row),
                                                  strict=True))) for row in X]
        return {"name": self.meta.name, "version": self.meta.version, "count": len(values),
                "site": site, "target": f"change of {self.meta.target} from the last value",
                "values": values}
