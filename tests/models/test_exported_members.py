"""The public API of ``riskcast.models`` changes only on purpose."""

import riskcast.models


def test_models_exports() -> None:
    assert sorted(riskcast.models.__all__) == sorted([
        "ALIASES", "ALLOWED_TYPES", "AliasMove", "DataRange", "Dataset", "ModelRegistry",
        "ModelService", "ModelVersion", "Predictor", "SqliteModelStore", "TrainingJob",
        "TrainingJobs", "TrainingPlan", "cross_validate", "fit_version"])
    for name in riskcast.models.__all__:
        assert hasattr(riskcast.models, name), name
