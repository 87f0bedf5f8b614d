"""Safe model files: skops with an allow-list; anything else refused before its code runs."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import skops.io as sio  # type: ignore[import-untyped]
from lightgbm import LGBMClassifier
from sklearn.ensemble import RandomForestClassifier  # type: ignore[import-untyped]

from riskcast.exceptions import NotFoundError, ValidationError
from riskcast.models import serialization
from tests.models.conftest import classification_data, lgbm_regressor

RAN: list[str] = []


class Payload:
    """Stands for attacker code: records that it ran when it is rebuilt."""

    def __init__(self) -> None:
        self.x = 1

    def __setstate__(self, state: dict[str, Any]) -> None:
        RAN.append("setstate")
        self.__dict__.update(state)


def test_lightgbm_round_trip_predicts_the_same(fitted_lgbm: LGBMClassifier) -> None:
    X = classification_data().X[:10]
    loaded = serialization.loads(serialization.dumps(fitted_lgbm))
    assert isinstance(loaded, LGBMClassifier)
    np.testing.assert_allclose(loaded.predict_proba(X), fitted_lgbm.predict_proba(X))
    expected = np.asarray(fitted_lgbm.predict_proba(X))[:, 1]
    np.testing.assert_allclose(loaded.booster_.predict(X), expected)


def test_forest_and_lightgbm_regressor_round_trip() -> None:
    ds = classification_data()
    for model in (RandomForestClassifier(n_estimators=5, random_state=0).fit(ds.X, ds.y),
                  lgbm_regressor().fit(ds.X, ds.X[:, 0])):
        loaded = serialization.loads(serialization.dumps(model))
        np.testing.assert_allclose(loaded.predict(ds.X), model.predict(ds.X))


def test_file_with_untrusted_type_is_refused_before_its_code_runs() -> None:
    RAN.clear()
    crafted = sio.dumps({"model": Payload()})
    with pytest.raises(ValidationError, match=r"untrusted types .*Payload") as info:
        serialization.loads(crafted)
    assert info.value.field == "artifact"
    assert RAN == []


def test_schema_naming_a_dangerous_function_is_refused(fitted_lgbm: LGBMClassifier) -> None:
    # Rewrite a genuine file so its schema names os.system instead of the estimator class.
    original = serialization.dumps(fitted_lgbm)
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(original)) as src, zipfile.ZipFile(out, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "schema.json":
                schema = json.loads(data)
                schema["__module__"], schema["__class__"] = "os", "system"
                data = json.dumps(schema).encode()
            dst.writestr(item, data)
    with pytest.raises(ValidationError, match=r"os\.system"):
        serialization.loads(out.getvalue())


def test_dumps_refuses_a_model_it_could_not_load_back() -> None:
    with pytest.raises(ValidationError, match="outside the allow-list"):
        serialization.dumps(Payload())


def test_pickle_bytes_are_not_a_model_file() -> None:
    import pickle

    with pytest.raises(ValidationError, match="not a skops model file"):
        serialization.loads(pickle.dumps({"a": 1}))


def test_load_checks_the_sha256(tmp_path: Path, fitted_lgbm: LGBMClassifier) -> None:
    path = tmp_path / "m.skops"
    digest = serialization.save(path, fitted_lgbm)
    assert isinstance(serialization.load(path, digest), LGBMClassifier)
    with pytest.raises(ValidationError, match="sha256"):
        serialization.load(path, "0" * 64)
    with pytest.raises(NotFoundError):
        serialization.load(tmp_path / "missing.skops")
