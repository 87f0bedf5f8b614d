"""Fire-occurrence models on the Algerian Forest Fires data, and the baselines they must beat.

Data: Abid & Izeboudjen (2019), *Predicting Forest Fire in Algeria Using Data Mining Techniques:
Case Study of the Decision Tree Algorithm*, AI2SD 2019, Springer AISC 1105 (UCI id 547, CC BY 4.0):
244 days (1 Jun - 30 Sep 2012) in two regions, Bejaia and Sidi-Bel Abbes, noon weather, the six
FWI System codes and a ``fire`` / ``not fire`` class (138 / 106).

Two feature sets, :data:`FEATURE_SETS`: ``weather`` (Temperature, RH, Ws, Rain) and
``weather+FWI`` (those plus FFMC, DMC, DC, ISI, BUI, FWI). Models, :func:`model_factories`:
majority class, an FFMC threshold rule (:class:`ThresholdRule`, threshold learnt on the training
part only), scaled logistic regression, a decision tree, a random forest, LightGBM, the soft vote
of LR + RF + LightGBM (seed 000's "ensemble") and, optionally, a 4-qubit VQC on the weather inputs
(:mod:`riskcast.packs.wildfire.quantum`).

**Leakage.** The class was assigned from the same day's weather that the FWI codes summarise: a
single FFMC threshold scores about 0.985 and every model on ``weather+FWI`` lands near 0.97-0.98.
Those numbers measure how the label was made, not forecasting skill; ``weather`` alone (about
0.73-0.83) is the honest baseline. See docs/wildfire-models.md and :data:`LEAKAGE_NOTE`.

:func:`evaluate_all` runs everything (with :mod:`riskcast.packs.wildfire.burned_area`) from one
call; ``riskcast wildfire evaluate`` is the command.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from riskcast.exceptions import MissingExtraError, ValidationError
from riskcast.packs.wildfire import quantum
from riskcast.packs.wildfire.burned_area import BurnedAreaReport, evaluate_burned_area
from riskcast.packs.wildfire.evaluation import (
    Classifier,
    EvalProtocol,
    FloatArray,
    IntArray,
    ProgressCallback,
    RocCurve,
    Score,
    cross_region_splits,
    data_file,
    evaluate_splits,
    repeated_stratified_splits,
    versions,
)
from riskcast.packs.wildfire.plots import plot_roc

try:
    from lightgbm import LGBMClassifier
    from sklearn.dummy import DummyClassifier  # type: ignore[import-untyped]
    from sklearn.ensemble import (  # type: ignore[import-untyped]
        RandomForestClassifier,
        VotingClassifier,
    )
    from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped]
    from sklearn.pipeline import make_pipeline  # type: ignore[import-untyped]
    from sklearn.preprocessing import StandardScaler  # type: ignore[import-untyped]
    from sklearn.tree import DecisionTreeClassifier  # type: ignore[import-untyped]
except ImportError as err:  # pragma: no cover - the ml extra is part of dev
    raise MissingExtraError(err.name or "scikit-learn", "ml") from err

ALGERIAN_FILE: Final = "algerian_forest_fires_2012_clean.csv"
WEATHER: Final = ("Temperature", "RH", "Ws", "Rain")
FWI_CODES: Final = ("FFMC", "DMC", "DC", "ISI", "BUI", "FWI")
FEATURE_SETS: Final[Mapping[str, tuple[str, ...]]] = {
    "weather": WEATHER, "weather+FWI": WEATHER + FWI_CODES}
#: Accepted header spellings: the tidy file's and the original UCI layout's.
_ALIASES: Final = {"Temperature": ("temp_c", "Temperature"), "RH": ("rh_pct", "RH"),
                   "Ws": ("ws_kmh", "Ws"), "Rain": ("rain_mm", "Rain"),
                   **{code: (code,) for code in FWI_CODES},
                   "class": ("class", "Classes"), "region": ("region", "Region")}
VQC_NAME: Final = "VQC (4 qubits, PennyLane)"
#: The VQC rows' status when it was switched off.
NOT_RUN: Final = "not run (--no-quantum)"
LEAKAGE_NOTE: Final = (
    "Leakage: a single FFMC threshold, learnt on the training folds only, scores about 0.98, and "
    "every model given the FWI codes lands near it. The Algerian class was assigned from the same "
    "day's weather that FFMC and ISI summarise, so those scores measure how the label was made, "
    "not forecasting skill. The weather-only rows are the honest baseline, and the cross-region "
    "rows show what survives a change of place (the class balance shifts too).")


@dataclass(frozen=True)
class FireOccurrenceData:
    """The Algerian table as arrays: feature columns by name, ``fire`` (1/0), ``region``."""

    columns: Mapping[str, FloatArray]
    fire: IntArray
    region: npt.NDArray[np.str_]

    def matrix(self, names: Sequence[str]) -> FloatArray:
        """The named feature columns stacked as a (rows x features) float array."""
        return np.column_stack([self.columns[name] for name in names])


def load_algerian(data_dir: Path | None = None) -> FireOccurrenceData:
    """Read :data:`ALGERIAN_FILE` from ``data_dir`` (default ``../shared/data``).

    Raises :class:`~riskcast.exceptions.NotFoundError` naming the file and ``--data`` when it is
    missing and :class:`~riskcast.exceptions.ValidationError` for a missing column or an unknown
    class label.
    """
    path = data_file(ALGERIAN_FILE, data_dir)
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        header = {name.strip(): name for name in reader.fieldnames or ()}
        rows = list(reader)
    keys: dict[str, str] = {}
    for name, spellings in _ALIASES.items():
        found = next((header[s] for s in spellings if s in header), None)
        if found is None:
            raise ValidationError(f"{path}: no column {' or '.join(spellings)}", field=name)
        keys[name] = found
    columns = {name: np.array([float(row[keys[name]]) for row in rows])
               for name in WEATHER + FWI_CODES}
    labels = [row[keys["class"]].strip().lower() for row in rows]
    unknown = sorted(set(labels) - {"fire", "not fire"})
    if unknown:
        raise ValidationError(f"{path}: unknown class labels {unknown}", field="class")
    return FireOccurrenceData(
        columns=columns, fire=np.array([label == "fire" for label in labels], dtype=np.int64),
        region=np.array([row[keys["region"]].strip() for row in rows]))


class ThresholdRule:
    """One-feature threshold classifier: fire when ``column`` > ``threshold_`` (or <).

    ``fit`` tries the midpoint between each pair of consecutive distinct training values (and a
    value below and above them all) in both directions and keeps the most accurate on the
    training rows; ties go to ``>`` and to the lowest threshold. Probabilities are a logistic of
    the distance to the threshold in training standard deviations, so P(fire) > 0.5 exactly
    where ``predict`` says fire.

    >>> rule = ThresholdRule().fit(np.array([[1.0], [2.0], [3.0], [10.0]]), np.array([0, 0, 1, 1]))
    >>> rule.threshold_, rule.direction_, rule.predict(np.array([[2.4], [2.6]])).tolist()
    (2.5, 1, [0, 1])
    """

    def __init__(self, column: int = 0) -> None:
        self.column = column
        self.threshold_ = 0.0
        self.direction_ = 1
        self.scale_ = 1.0

    def fit(self, X: FloatArray, y: IntArray) -> ThresholdRule:
        """Choose the threshold and direction that maximise training accuracy."""
        x = np.asarray(X, dtype=float)[:, self.column]
        y = np.asarray(y)
        values = np.unique(x)
        candidates = np.concatenate([[values[0] - 1.0], (values[:-1] + values[1:]) / 2.0,
                                     [values[-1] + 1.0]])
        above = x[None, :] > candidates[:, None]
        correct_up = (above == (y[None, :] == 1)).sum(axis=1)
        correct_down = len(x) - correct_up
        best_up, best_down = int(np.argmax(correct_up)), int(np.argmax(correct_down))
        if correct_down[best_down] > correct_up[best_up]:
            self.threshold_, self.direction_ = float(candidates[best_down]), -1
        else:
            self.threshold_, self.direction_ = float(candidates[best_up]), 1
        self.scale_ = float(x.std()) or 1.0
        return self

    def _margin(self, X: FloatArray) -> FloatArray:
        x = np.asarray(X, dtype=float)[:, self.column]
        return np.asarray(self.direction_ * (x - self.threshold_) / self.scale_, dtype=float)

    def predict(self, X: FloatArray) -> IntArray:
        """1 (fire) on the fire side of the threshold, else 0."""
        return (self._margin(X) > 0).astype(np.int64)

    def predict_proba(self, X: FloatArray) -> FloatArray:
        """Columns P(0), P(1)."""
        p1 = 1.0 / (1.0 + np.exp(-self._margin(X)))
        return np.column_stack([1.0 - p1, p1])


def _lightgbm(seed: int) -> Any:
    # Small data (about 220 training rows): shallow trees, at least 10 rows a leaf, no logging.
    return LGBMClassifier(n_estimators=200, learning_rate=0.05, num_leaves=7,
                          min_child_samples=10, subsample=0.8, subsample_freq=1,
                          colsample_bytree=0.8, reg_lambda=1.0, random_state=seed, n_jobs=1,
                          verbose=-1)


def _logistic() -> Any:
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))


def _forest(seed: int) -> Any:
    return RandomForestClassifier(n_estimators=100, random_state=seed, n_jobs=1)


def model_factories(features: Sequence[str], seed: int = 0,
                    quantum_model: bool = False) -> dict[str, Callable[[], Classifier]]:
    """Fresh-model factories by display name, for the columns ``features`` (in that order).

    The FFMC rule is included only when FFMC is a feature; the VQC only when asked for (it takes
    one qubit per feature).

    >>> list(model_factories(WEATHER))
    ['majority', 'logistic regression', 'decision tree', 'random forest', 'LightGBM', 'soft vote (LR+RF+LGBM)']
    """  # noqa: E501
    factories: dict[str, Callable[[], Classifier]] = {
        "majority": lambda: DummyClassifier(strategy="most_frequent")}
    if "FFMC" in features:
        column = list(features).index("FFMC")
        factories["FFMC threshold"] = lambda: ThresholdRule(column)
    factories["logistic regression"] = _logistic
    factories["decision tree"] = lambda: DecisionTreeClassifier(random_state=seed)
    factories["random forest"] = lambda: _forest(seed)
    factories["LightGBM"] = lambda: _lightgbm(seed)
    factories["soft vote (LR+RF+LGBM)"] = lambda: VotingClassifier(
        [("lr", _logistic()), ("rf", _forest(seed)), ("lgbm", _lightgbm(seed))], voting="soft")
    if quantum_model:
        factories[VQC_NAME] = lambda: quantum.VQCClassifier(seed=seed)
    return factories


@dataclass(frozen=True)
class ResultRow:
    """One model on one feature set under one protocol; scores are ``None`` when not run."""

    protocol: str
    feature_set: str
    model: str
    accuracy: Score | None
    f1: Score | None
    roc_auc: Score | None
    fit_seconds: float | None
    status: str = "ok"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {"protocol": self.protocol, "feature_set": self.feature_set, "model": self.model,
                **{name: None if s is None else s.to_dict() for name, s in
                   (("accuracy", self.accuracy), ("f1", self.f1), ("roc_auc", self.roc_auc))},
                "fit_seconds": self.fit_seconds, "status": self.status}


@dataclass(frozen=True)
class OccurrenceReport:
    """Every result row, the pooled CV ROC curves by feature set and model, and the set-up."""

    rows: tuple[ResultRow, ...]
    roc: Mapping[str, Mapping[str, RocCurve]]
    cv_protocol: str
    protocols: Mapping[str, str]
    class_counts: Mapping[str, int]
    pennylane: str | None
    config: Mapping[str, Any] = field(default_factory=dict)

    def row(self, protocol: str, feature_set: str, model: str) -> ResultRow:
        """The row for this protocol, feature set and model (KeyError if there is none)."""
        for r in self.rows:
            if (r.protocol, r.feature_set, r.model) == (protocol, feature_set, model):
                return r
        raise KeyError((protocol, feature_set, model))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (ROC curves reduced to their pooled AUC)."""
        return {"config": dict(self.config), "protocols": dict(self.protocols),
                "cv_protocol": self.cv_protocol, "class_counts": dict(self.class_counts),
                "pennylane": self.pennylane, "leakage_note": LEAKAGE_NOTE,
                "rows": [r.to_dict() for r in self.rows],
                "pooled_roc_auc": {fs: {m: None if np.isnan(c.auc) else c.auc
                                        for m, c in curves.items()}
                                   for fs, curves in self.roc.items()}}


def evaluate_occurrence(data_dir: Path | None = None, *, repeats: int = 5, n_splits: int = 10,
                        seed: int = 0, quantum_model: bool = True,
                        progress: ProgressCallback | None = None,
                        data: FireOccurrenceData | None = None,
                        models: Collection[str] | None = None) -> OccurrenceReport:
    """Every model on both feature sets under repeated stratified CV and cross-region tests.

    The VQC runs on the ``weather`` set only. Its rows are there in any case: without PennyLane
    they say :data:`~riskcast.packs.wildfire.quantum.NOT_INSTALLED`, with ``quantum_model=False``
    :data:`NOT_RUN`. ``models`` restricts the run to those display names (default: all).
    ``progress(done, total)`` is called after each fitted fold.
    """
    data = data if data is not None else load_algerian(data_dir)
    version = quantum.pennylane_version()
    cv = repeated_stratified_splits(data.fire, n_splits=n_splits, repeats=repeats, seed=seed)
    protocols: list[EvalProtocol] = [cv, *cross_region_splits(data.region)]
    plan: list[tuple[EvalProtocol, str, str, Callable[[], Classifier] | None]] = []
    for protocol in protocols:
        for fs_name, features in FEATURE_SETS.items():
            with_vqc = fs_name == "weather" and (models is None or VQC_NAME in models)
            factories = model_factories(
                features, seed, with_vqc and quantum_model and version is not None)
            plan.extend((protocol, fs_name, name, f) for name, f in factories.items()
                        if models is None or name in models)
            if with_vqc and VQC_NAME not in factories:
                plan.append((protocol, fs_name, VQC_NAME, None))
    total = sum(len(p.splits) for p, _, _, f in plan if f is not None)
    done = 0

    def advance() -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, total)

    rows: list[ResultRow] = []
    roc: dict[str, dict[str, RocCurve]] = {name: {} for name in FEATURE_SETS}
    for protocol, fs_name, name, factory in plan:
        if factory is None:
            rows.append(ResultRow(protocol.name, fs_name, name, None, None, None, None,
                                  status=quantum.NOT_INSTALLED if quantum_model else NOT_RUN))
            continue
        result = evaluate_splits(factory, data.matrix(FEATURE_SETS[fs_name]), data.fire,
                                 protocol.splits, advance)
        rows.append(ResultRow(protocol.name, fs_name, name, result.accuracy, result.f1,
                              result.roc_auc, result.fit_seconds))
        if protocol is cv:
            roc[fs_name][name] = result.roc
    counts = {"fire": int(data.fire.sum()), "not fire": int((data.fire == 0).sum()),
              **{f"region {r}": int((data.region == r).sum()) for r in np.unique(data.region)}}
    return OccurrenceReport(
        rows=tuple(rows), roc=roc, cv_protocol=cv.name,
        protocols={p.name: p.description for p in protocols}, class_counts=counts,
        pennylane=version, config={"repeats": repeats, "n_splits": n_splits, "seed": seed,
                                   "quantum": quantum_model})


@dataclass(frozen=True)
class WildfireEvaluation:
    """The fire-occurrence report and the Montesinho burned-area report together."""

    occurrence: OccurrenceReport
    burned_area: BurnedAreaReport

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict, the content of ``results.json``."""
        return {"versions": versions(), "occurrence": self.occurrence.to_dict(),
                "burned_area": self.burned_area.to_dict()}

    def write(self, out_dir: Path) -> tuple[Path, Path]:
        """Write ``results.json`` and ``roc.png`` into ``out_dir``; return their paths."""
        out_dir.mkdir(parents=True, exist_ok=True)
        results = out_dir / "results.json"
        results.write_text(json.dumps(self.to_dict(), indent=2) + "\n")
        return results, plot_roc(self.occurrence.roc, out_dir / "roc.png")


def evaluate_all(data_dir: Path | None = None, *, repeats: int = 5, quick: bool = False,
                 quantum_model: bool = True, seed: int = 0,
                 progress: Callable[[str, int, int], None] | None = None) -> WildfireEvaluation:
    """The whole wildfire model evaluation from one call (``riskcast wildfire evaluate``).

    ``quick`` means one repeat of each cross-validation (for tests and a first look).
    ``progress(phase, done, total)`` reports folds for the phases ``"occurrence"`` and
    ``"burned area"``.
    """
    repeats = 1 if quick else repeats

    def phase(name: str) -> ProgressCallback | None:
        if progress is None:
            return None
        return lambda done, total: progress(name, done, total)

    occurrence = evaluate_occurrence(data_dir, repeats=repeats, seed=seed,
                                     quantum_model=quantum_model, progress=phase("occurrence"))
    burned = evaluate_burned_area(data_dir, repeats=repeats, seed=seed,
                                  progress=phase("burned area"))
    return WildfireEvaluation(occurrence=occurrence, burned_area=burned)
