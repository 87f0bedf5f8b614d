"""A small variational quantum classifier (VQC), simulated with PennyLane: an optional baseline.

Seed 000 claimed a "Variational Quantum Classifier (93% accuracy)" for fire occurrence. This is
the textbook VQC that claim could mean, evaluated on the same folds as the classical models:

* inputs scaled to [0, pi] with the training rows' min and max (test rows clipped), one qubit per
  input, angle embedding (``qml.AngleEmbedding``, RX rotations);
* ``n_layers`` strongly entangling layers (Schuld, Bocharov, Svore & Wiebe 2020, *Circuit-centric
  quantum classifiers*, Phys. Rev. A 101, 032308; ``qml.StronglyEntanglingLayers``);
* output <Z> on wire 0 plus a trainable bias, fitted to labels in {-1, +1} by mean squared error
  with Adam, full batch, ``epochs`` steps, initial weights N(0, 0.1) from ``seed``
  (the PennyLane "variational classifier" tutorial, Bergholm et al. 2018, arXiv:1811.04968).

The circuit is run once per step on the whole batch (parameter broadcasting over rows); one call
per row is about 28 times slower. It runs on PennyLane's ``default.qubit`` simulator, offline: no
quantum hardware, and no claim of a quantum speed-up. PennyLane is not a riskcast dependency and
is imported only inside :meth:`VQCClassifier.fit`; :func:`pennylane_version` says whether it is
there. Tested with PennyLane 0.45.1.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
from typing import Any

import numpy as np

from riskcast.exceptions import MissingExtraError
from riskcast.packs.wildfire.evaluation import FloatArray, IntArray

#: What the results table says when PennyLane is missing.
NOT_INSTALLED = "not installed (pip install pennylane)"


class PennyLaneMissingError(MissingExtraError):
    """PennyLane is not installed; riskcast has no extra for it: ``pip install pennylane``."""

    def __init__(self) -> None:
        Exception.__init__(self, f"pennylane is {NOT_INSTALLED}")
        self.package = "pennylane"
        self.extra = ""


def pennylane_version() -> str | None:
    """The installed PennyLane version, or ``None`` when it is not installed."""
    if importlib.util.find_spec("pennylane") is None:
        return None
    return importlib.metadata.version("pennylane")


class VQCClassifier:
    """Angle embedding + strongly entangling layers, one qubit per input column.

    scikit-learn's estimator verbs (``fit``, ``predict``, ``predict_proba``,
    ``decision_function``); class 1 is predicted when ``<Z_0> + bias > 0``.
    """

    def __init__(self, n_layers: int = 2, epochs: int = 30, learning_rate: float = 0.1,
                 seed: int = 0) -> None:
        self.n_layers = n_layers
        self.epochs = epochs
        self.learning_rate = learning_rate
        self.seed = seed
        self._circuit: Any = None
        self._weights: Any = None
        self._bias = 0.0
        self._low: FloatArray = np.zeros(0)
        self._span: FloatArray = np.ones(0)

    def _angles(self, X: FloatArray) -> FloatArray:
        scaled = (np.asarray(X, dtype=float) - self._low) / self._span
        return np.clip(scaled, 0.0, 1.0) * np.pi

    def fit(self, X: FloatArray, y: IntArray) -> VQCClassifier:
        """Train on ``X`` (rows x qubits) and labels ``y`` in {0, 1}."""
        try:
            import pennylane as qml
            from pennylane import numpy as pnp
        except ImportError as err:
            raise PennyLaneMissingError() from err

        X = np.asarray(X, dtype=float)
        n_qubits = X.shape[1]
        self._low = X.min(axis=0)
        self._span = np.where(np.ptp(X, axis=0) > 0, np.ptp(X, axis=0), 1.0)
        device = qml.device("default.qubit", wires=n_qubits)

        @qml.qnode(device)  # type: ignore[untyped-decorator]
        def circuit(weights: Any, angles: Any) -> Any:
            qml.AngleEmbedding(angles, wires=range(n_qubits))
            qml.StronglyEntanglingLayers(weights, wires=range(n_qubits))
            return qml.expval(qml.PauliZ(0))

        rng = np.random.default_rng(self.seed)
        shape = qml.StronglyEntanglingLayers.shape(n_layers=self.n_layers, n_wires=n_qubits)
        weights = pnp.array(rng.normal(0.0, 0.1, size=shape), requires_grad=True)
        bias = pnp.array(0.0, requires_grad=True)
        angles = self._angles(X)
        target = 2.0 * np.asarray(y, dtype=float) - 1.0
        optimizer = qml.AdamOptimizer(stepsize=self.learning_rate)

        def cost(w: Any, b: Any) -> Any:
            return pnp.mean((circuit(w, angles) + b - target) ** 2)

        for _ in range(self.epochs):
            weights, bias = optimizer.step(cost, weights, bias)
        self._circuit, self._weights, self._bias = circuit, weights, float(bias)
        return self

    def decision_function(self, X: FloatArray) -> FloatArray:
        """``<Z_0> + bias`` for each row, in [-1 + bias, 1 + bias]."""
        if self._circuit is None:
            raise RuntimeError("VQCClassifier is not fitted")
        out = np.asarray(self._circuit(self._weights, self._angles(X)), dtype=float)
        return np.atleast_1d(out) + self._bias

    def predict_proba(self, X: FloatArray) -> FloatArray:
        """Columns P(0), P(1), with P(1) = clip((decision + 1) / 2, 0, 1)."""
        p1 = np.clip((self.decision_function(X) + 1.0) / 2.0, 0.0, 1.0)
        return np.column_stack([1.0 - p1, p1])

    def predict(self, X: FloatArray) -> IntArray:
        """1 where the decision is positive, else 0."""
        return (self.decision_function(X) > 0.0).astype(np.int64)
