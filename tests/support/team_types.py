"""A transformer of a team's own, outside scikit-learn: a model holding it loads only when the
app's settings trust its type (MODEL_TRUSTED_TYPES, or TRAINING_PIPELINE naming this module)."""

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.pipeline import Pipeline

from ml.estimators import build_pipeline
from ml.features import prepare_features
from ml.task import CLASSIFICATION

TYPE = "tests.support.team_types.Clip"


class Clip(TransformerMixin, BaseEstimator):
    """Clips every number to the range seen in training; passes other columns through."""

    def fit(self, frame: pd.DataFrame, y: Any = None) -> "Clip":
        numbers = frame.select_dtypes("number")
        self.low_, self.high_ = numbers.min().to_dict(), numbers.max().to_dict()
        return self

    def transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        out = frame.copy()
        for name, low in self.low_.items():
            out[name] = np.clip(out[name], low, self.high_[name])
        return out


def clipped_model(frame: pd.DataFrame, target: str) -> Pipeline:
    """A fitted pipeline whose first step is a Clip: its skops file lists this module's type."""
    model = build_pipeline(frame, target, "random_forest", {"n_estimators": 5}, 42)
    pipeline = Pipeline([("clip", Clip()), ("model", model)])
    return pipeline.fit(prepare_features(frame, target), CLASSIFICATION.labels(frame[target]))
