"""A team's own training pipeline for the retraining service (docs/team-pipeline.md).

    PYTHONPATH=docs/examples TRAINING_PIPELINE=team_pipeline:make_pipeline

The service calls `make_pipeline(params, columns)` once per run with TRAINING_PARAMS and the feature
columns by kind, and fits what it returns on the training rows only. The frame it fits on is the
data as the service reads it: ids, exclusions and the target left out, each datetime column read as
its parts (`<name>_year`, `_month`, `_dayofweek`, and `_hour` where the data has a time).

Here: the year as a number, the month and the day of the week on a circle (December next to
January), each free-text column (declared `text` in the data's schema file) as TF-IDF words,
categories one-hot, and a HistGradientBoosting classifier over all of it.
"""

from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder

# The period of each cyclic date part, by the suffix the service gives it.
PERIODS = {"_month": 12, "_dayofweek": 7, "_hour": 24}


def on_a_circle(parts: pd.DataFrame) -> np.ndarray:
    """Each cyclic date part as its sine and cosine; a missing date stays missing (NaN)."""
    columns = []
    for name in parts.columns:
        period = next(p for suffix, p in PERIODS.items() if str(name).endswith(suffix))
        angle = 2 * np.pi * parts[name].astype("float64").to_numpy() / period
        columns += [np.sin(angle), np.cos(angle)]
    return np.column_stack(columns) if columns else np.empty((len(parts), 0))


def as_text(column: pd.Series) -> np.ndarray:
    """A text column as strings, a missing text as an empty one (TF-IDF takes no None)."""
    return column.fillna("").astype(str).to_numpy()


def make_pipeline(params: dict[str, Any], columns: dict[str, list[str]]) -> Pipeline:
    params = dict(params)
    words = int(params.pop("text_features", 300))
    cyclic = [c for c in columns["datetime"] if c.endswith(tuple(PERIODS))]
    numbers = columns["numeric"] + [c for c in columns["datetime"] if c not in cyclic]
    categories = columns["categorical"] + columns["boolean"]
    parts = [
        # HistGradientBoosting reads a missing number itself.
        ("numbers", "passthrough", numbers),
        ("dates", FunctionTransformer(on_a_circle), cyclic),
        (
            "categories",
            Pipeline(
                [
                    ("fill", SimpleImputer(strategy="constant", fill_value="missing")),
                    ("encode", OneHotEncoder(handle_unknown="infrequent_if_exist", max_categories=20)),
                ]
            ),
            categories,
        ),
        *(
            # One column name, not a list: TF-IDF reads one column of strings.
            (
                f"words_{name}",
                Pipeline([("text", FunctionTransformer(as_text)), ("tfidf", TfidfVectorizer(max_features=words))]),
                name,
            )
            for name in columns["text"]
        ),
    ]
    # Dense: HistGradientBoosting takes no sparse matrix.
    preprocess = ColumnTransformer([part for part in parts if len(part[2])], sparse_threshold=0)
    return Pipeline([("preprocess", preprocess), ("model", HistGradientBoostingClassifier(**params))])
