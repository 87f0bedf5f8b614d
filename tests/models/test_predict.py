"""Predicting: rows to a matrix with clear errors; the LightGBM booster path matches sklearn."""

from __future__ import annotations

import msgspec
import numpy as np
import pytest
from lightgbm import LGBMClassifier

from riskcast.exceptions import ValidationError
from riskcast.models.predict import Predictor, to_matrix
from tests.models.conftest import (
    FEATURES,
    classification_data,
    lgbm,
    lgbm_regressor,
    logistic,
    meta,
)


def test_rows_by_name_and_columns_give_the_same_matrix() -> None:
    rows = [{"a": 1, "b": 2, "c": 3}, {"c": 6, "b": 5, "a": 4}]
    columns = {"a": [1, 4], "b": [2, 5], "c": [3, 6]}
    np.testing.assert_array_equal(to_matrix(FEATURES, rows=rows),
                                  to_matrix(FEATURES, columns=columns))


@pytest.mark.parametrize(("rows", "field"), [
    ([{"a": 1, "b": 2}], "rows[0].c"),
    ([[1, 2]], "rows[0]"),
    ([[1, 2, "x"]], "rows[0][2]"),
    ([{"a": 1, "b": True, "c": 1}], "rows[0].b"),
    ([], "rows"),
])
def test_bad_rows_name_the_field(rows: list[object], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        to_matrix(FEATURES, rows=rows)
    assert info.value.field == field


def test_row_limit() -> None:
    with pytest.raises(ValidationError, match="at most 2"):
        to_matrix(FEATURES, rows=[[0, 0, 0]] * 3, limit=2)


def test_booster_path_matches_predict_proba(fitted_lgbm: LGBMClassifier) -> None:
    X = classification_data().X[:20]
    p = Predictor(msgspec.structs.replace(meta(), algorithm="LightGBM"), fitted_lgbm)
    assert p.booster is not None
    out = p.predict(X)
    np.testing.assert_allclose(out["probabilities"], np.asarray(fitted_lgbm.predict_proba(X))[:, 1])
    assert out["labels"] == np.asarray(fitted_lgbm.predict(X)).tolist()
    assert (out["version"], out["count"], out["positive_class"]) == (0, 20, 1)


def test_string_classes_and_sklearn_models() -> None:
    ds = classification_data()
    labels = np.where(ds.y == 1, "fire", "none")
    for model in (lgbm().fit(ds.X, labels), logistic().fit(ds.X, labels)):
        out = Predictor(meta(), model).predict(ds.X[:5])
        assert out["labels"] == np.asarray(model.predict(ds.X[:5])).tolist()
        assert out["positive_class"] == "none"


def test_multiclass_gives_a_probability_per_class() -> None:
    ds = classification_data()
    y = np.digitize(ds.X[:, 0], [-0.5, 0.5])
    out = Predictor(meta(), lgbm().fit(ds.X, y)).predict(ds.X[:4])
    assert out["classes"] == [0, 1, 2]
    assert np.allclose(np.sum(out["probabilities"], axis=1), 1.0)


def test_regression_gives_values() -> None:
    ds = classification_data()
    model = lgbm_regressor().fit(ds.X, ds.X[:, 0])
    out = Predictor(msgspec.structs.replace(meta(), task="regression"), model).predict(ds.X[:3])
    np.testing.assert_allclose(out["values"], model.predict(ds.X[:3]))
