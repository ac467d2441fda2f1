"""Build and fit the challenger: a scikit-learn pipeline over numeric and categorical columns."""

from collections.abc import Iterable
from typing import Any

import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from ml.contract import (
    CATEGORICAL,
    CLASSIFIER,
    ENCODE,
    FILL_VALUE,
    IMPUTE,
    NUMERIC,
    PREPROCESS,
    SCALE,
)
from ml.features import feature_columns, prepare_features
from ml.task import CLASSIFICATION, REGRESSION, Task

ESTIMATORS: dict[str, type] = {
    "random_forest": RandomForestClassifier,
    "gradient_boosting": HistGradientBoostingClassifier,
    "logistic_regression": LogisticRegression,
    "decision_tree": DecisionTreeClassifier,
}
# The same names for a regression: each estimator's regressor ("logistic_regression" is then the
# linear model, least squares).
REGRESSORS: dict[str, type] = {
    "random_forest": RandomForestRegressor,
    "gradient_boosting": HistGradientBoostingRegressor,
    "logistic_regression": LinearRegression,
    "decision_tree": DecisionTreeRegressor,
}
BY_TASK: dict[str, dict[str, type]] = {CLASSIFICATION.name: ESTIMATORS, REGRESSION.name: REGRESSORS}


# Per categorical column, the most frequent values kept as categories of their own; the rest are
# grouped as one "infrequent" category, as are values never seen: memory and the model stay small.
MAX_CATEGORIES = 50


class TrainingError(ValueError):
    """The configured estimator or its hyperparameters are not usable."""


def build_pipeline(
    frame: pd.DataFrame,
    target: str,
    estimator: str,
    params: dict[str, Any],
    seed: int,
    exclude: Iterable[str] = (),
    task: Task = CLASSIFICATION,
) -> Pipeline:
    estimators = BY_TASK[task.name]
    if estimator not in estimators:
        known = ", ".join(sorted(estimators))
        raise TrainingError(f"unknown estimator {estimator!r}: choose one of {known}")
    numeric, categorical = feature_columns(frame, target, exclude)
    estimator_class = estimators[estimator]
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
                        (
                            ENCODE,
                            OneHotEncoder(handle_unknown="infrequent_if_exist", max_categories=MAX_CATEGORIES),
                        ),
                    ]
                ),
                categorical,
            ),
        ]
    )
    return Pipeline([(PREPROCESS, preprocess), (CLASSIFIER, classifier)])


def train(
    frame: pd.DataFrame,
    target: str,
    estimator: str,
    params: dict[str, Any],
    seed: int,
    exclude: Iterable[str] = (),
    features: pd.DataFrame | None = None,
    task: Task = CLASSIFICATION,
) -> Pipeline:
    """Fit on every column but the target and `exclude`: those are never model inputs.

    `features` are `prepare_features(frame, target, exclude)`, when the caller has them already.
    """
    exclude = list(exclude)
    pipeline = build_pipeline(frame, target, estimator, params, seed, exclude, task)
    features = prepare_features(frame, target, exclude) if features is None else features
    try:
        pipeline.fit(features, task.labels(frame[target]))
    except (TypeError, ValueError) as exc:
        raise TrainingError(f"training {estimator} failed: {exc}") from None
    return pipeline
