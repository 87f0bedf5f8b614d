"""Models: a registry of named, versioned models in a safe format, training, predicting.

See docs/models.md. The machine-learning libraries (scikit-learn, LightGBM, skops) come with the
``ml`` extra.
"""

from riskcast.models.forecasters import ForecasterSet, StationForecaster
from riskcast.models.jobs import TrainingJob, TrainingJobs
from riskcast.models.predict import Predictor
from riskcast.models.records import (
    ALIASES,
    AliasMove,
    DataRange,
    ModelVersion,
    prediction_variable,
)
from riskcast.models.registry import ModelRegistry
from riskcast.models.serialization import ALLOWED_TYPES
from riskcast.models.service import ModelService
from riskcast.models.shadow import ShadowTally
from riskcast.models.store import SqliteModelStore
from riskcast.models.training import (
    CustomPlan,
    Dataset,
    TrainingPlan,
    cross_validate,
    fit_version,
)

__all__ = [
    "ALIASES", "ALLOWED_TYPES", "AliasMove", "CustomPlan", "DataRange", "Dataset",
    "ForecasterSet", "ModelRegistry", "ModelService", "ModelVersion", "Predictor",
    "ShadowTally", "SqliteModelStore", "StationForecaster", "TrainingJob", "TrainingJobs",
    "TrainingPlan", "cross_validate", "fit_version", "prediction_variable",
]
