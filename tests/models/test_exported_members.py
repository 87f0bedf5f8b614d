"""The public API of ``riskcast.models`` changes only on purpose."""

import riskcast.models


def test_models_exports() -> None:
    assert sorted(riskcast.models.__all__) == sorted([
        "ALIASES", "ALLOWED_TYPES", "AliasMove", "CustomPlan", "DataRange", "Dataset",
        "ForecasterSet", "ModelRegistry", "ModelService", "ModelVersion", "Predictor",
        "ShadowTally", "SqliteModelStore", "StationForecaster", "TrainingJob", "TrainingJobs",
        "TrainingPlan", "cross_validate", "fit_version", "prediction_variable"])
    for name in riskcast.models.__all__:
        assert hasattr(riskcast.models, name), name
