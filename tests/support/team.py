"""A team's own training module, written outside the project and put on the path, as a team ships one."""

import uuid
from pathlib import Path

# Fits a HistGradientBoosting model behind the team's own preprocessing; `Seen` keeps every frame
# the team's code was fitted on, so a test can tell which rows it saw.
PIPELINE = """
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OrdinalEncoder

SEEN = []


class Seen(BaseEstimator, TransformerMixin):
    def fit(self, X, y=None):
        SEEN.append(X.copy())
        return self

    def transform(self, X):
        return X


def make_pipeline(params, columns):
    categories = Pipeline(
        [
            ("fill", SimpleImputer(strategy="constant", fill_value="missing")),
            ("codes", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1)),
        ]
    )
    preprocess = ColumnTransformer(
        [
            ("numbers", SimpleImputer(strategy="median"), columns["numeric"] + columns["datetime"]),
            ("categories", categories, columns["categorical"] + columns["boolean"]),
        ]
    )
    return Pipeline([("seen", Seen()), ("preprocess", preprocess), ("model", HistGradientBoostingClassifier(**params))])
"""


def write_module(folder: Path, source: str = PIPELINE, callable_name: str = "make_pipeline") -> str:
    """Writes `source` as a module of a fresh name into `folder` (on the path) and returns its
    TRAINING_PIPELINE path: a fresh name, as a process imports a module once."""
    name = f"team_models_{uuid.uuid4().hex[:8]}"
    (folder / f"{name}.py").write_text(source)
    return f"{name}:{callable_name}"
