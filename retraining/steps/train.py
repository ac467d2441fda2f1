"""Build and fit the challenger: a scikit-learn pipeline over numeric and categorical columns."""

from collections.abc import Iterable
from typing import Any

import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.tree import DecisionTreeClassifier

from predictor.contract import (
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
    the excluded ones (the row id, timestamps, free text: see retraining.steps.split.non_features)."""
    features = prepare_features(frame, target, exclude)
    numeric = [c for c in features.columns if is_numeric(features[c])]
    categorical = [c for c in features.columns if c not in numeric]
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
    """
    dropped = [c for c in dict.fromkeys([target, *exclude]) if c is not None and c in frame.columns]
    out = frame.drop(columns=dropped)
    for name in out.columns:
        if not is_numeric(out[name]):
            out[name] = out[name].astype(object).where(out[name].notna(), None)
    return out


def train(
    frame: pd.DataFrame, target: str, estimator: str, params: dict[str, Any], seed: int, exclude: Iterable[str] = ()
) -> Pipeline:
    """Fit on every column but the target and `exclude`: those are never model inputs."""
    exclude = list(exclude)
    pipeline = build_pipeline(frame, target, estimator, params, seed, exclude)
    try:
        pipeline.fit(prepare_features(frame, target, exclude), frame[target].astype(str))
    except (TypeError, ValueError) as exc:
        raise TrainingError(f"training {estimator} failed: {exc}") from None
    return pipeline
