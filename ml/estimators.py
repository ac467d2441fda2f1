"""Build and fit the challenger: a scikit-learn pipeline over numeric and categorical columns."""

from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.tree import DecisionTreeClassifier

from ml.contract import (
    CATEGORICAL,
    CLASSIFIER,
    ENCODE,
    FILL_VALUE,
    IMPUTE,
    NUMERIC,
    PREPROCESS,
    SCALE,
    is_numeric,
)

ESTIMATORS: dict[str, type] = {
    "random_forest": RandomForestClassifier,
    "gradient_boosting": HistGradientBoostingClassifier,
    "logistic_regression": LogisticRegression,
    "decision_tree": DecisionTreeClassifier,
}


class TrainingError(ValueError):
    """The configured estimator or its hyperparameters are not usable."""


def feature_columns(frame: pd.DataFrame, target: str, exclude: Iterable[str] = ()) -> tuple[list[str], list[str]]:
    """(numeric, categorical) feature columns, in the frame's order: every column but the target and
    the excluded ones (the row id, timestamps, free text: see ml.split.non_features)."""
    # prepare_features keeps numeric columns as they are and makes every other one plain objects.
    features = [c for c in frame.columns if c not in _dropped(frame, target, exclude)]
    numeric = [c for c in features if is_numeric(frame[c])]
    categorical = [c for c in features if c not in numeric]
    return numeric, categorical


def build_pipeline(
    frame: pd.DataFrame, target: str, estimator: str, params: dict[str, Any], seed: int, exclude: Iterable[str] = ()
) -> Pipeline:
    if estimator not in ESTIMATORS:
        known = ", ".join(sorted(ESTIMATORS))
        raise TrainingError(f"unknown estimator {estimator!r}: choose one of {known}")
    numeric, categorical = feature_columns(frame, target, exclude)
    estimator_class = ESTIMATORS[estimator]
    params = dict(params)
    if "random_state" in estimator_class().get_params():
        params.setdefault("random_state", seed)
    try:
        classifier = estimator_class(**params)
    except TypeError as exc:
        raise TrainingError(f"bad hyperparameters for {estimator}: {exc}") from None
    preprocess = ColumnTransformer(
        [
            (
                NUMERIC,
                Pipeline([(IMPUTE, SimpleImputer(strategy="median")), (SCALE, StandardScaler())]),
                numeric,
            ),
            (
                CATEGORICAL,
                Pipeline(
                    [
                        (IMPUTE, SimpleImputer(strategy="constant", fill_value=FILL_VALUE)),
                        (ENCODE, OneHotEncoder(handle_unknown="ignore")),
                    ]
                ),
                categorical,
            ),
        ]
    )
    return Pipeline([(PREPROCESS, preprocess), (CLASSIFIER, classifier)])


def prepare_features(frame: pd.DataFrame, target: str | None = None, exclude: Iterable[str] = ()) -> pd.DataFrame:
    """Features as the pipeline expects them: categorical columns as plain Python objects.

    Excluded columns absent from the frame are ignored: a configured exclusion is not a required column.
    Numeric columns are not copied (pandas copies on write).
    """
    out = frame.drop(columns=_dropped(frame, target, exclude))
    for name in out.columns:
        if not is_numeric(out[name]):
            out[name] = _as_objects(out[name], None)
    return out


def labels(column: pd.Series) -> np.ndarray:
    """A label column as text, as `column.astype(str).to_numpy()` gives it (Python strings, NaN in a
    gap), with one object per distinct label."""
    text = column.astype(str)
    if isinstance(text.dtype, pd.StringDtype):
        return _as_objects(text, text.dtype.na_value).to_numpy()
    return text.to_numpy()


def _as_objects(column: pd.Series, missing: Any) -> Any:
    """The column's values as Python objects, `missing` in its gaps. A text column's values are made
    once per distinct value and shared by their rows: one object a row (pandas' own conversion) is
    some 60 bytes a row and a second per million rows."""
    if isinstance(column.dtype, pd.StringDtype):
        codes, distinct = pd.factorize(column)
        objects = np.append(np.asarray(distinct, dtype=object), np.array([missing], dtype=object))[codes]
        return pd.Series(objects, index=column.index, name=column.name, dtype=object)
    return column.astype(object).where(column.notna(), missing)


def _dropped(frame: pd.DataFrame, target: str | None, exclude: Iterable[str]) -> list[str]:
    return [c for c in dict.fromkeys([target, *exclude]) if c is not None and c in frame.columns]


def train(
    frame: pd.DataFrame,
    target: str,
    estimator: str,
    params: dict[str, Any],
    seed: int,
    exclude: Iterable[str] = (),
    features: pd.DataFrame | None = None,
) -> Pipeline:
    """Fit on every column but the target and `exclude`: those are never model inputs.

    `features` are `prepare_features(frame, target, exclude)`, when the caller has them already.
    """
    exclude = list(exclude)
    pipeline = build_pipeline(frame, target, estimator, params, seed, exclude)
    features = prepare_features(frame, target, exclude) if features is None else features
    try:
        pipeline.fit(features, labels(frame[target]))
    except (TypeError, ValueError) as exc:
        raise TrainingError(f"training {estimator} failed: {exc}") from None
    return pipeline
