"""Build and fit the challenger: a scikit-learn pipeline over numeric and categorical columns."""

from collections.abc import Iterable
from importlib import import_module
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
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
from ml.weights import fit_arguments

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


# Other names of the built-in estimators: the estimator's own name reads naturally too.
ALIASES = {"hist_gradient_boosting": "gradient_boosting"}
_SKLEARN = "sklearn."


def resolve_estimator(name: str, task: Task = CLASSIFICATION) -> type:
    """The estimator class `name` stands for under `task`: a built-in name (or one of `ALIASES`),
    which is the task's classifier or regressor, or a scikit-learn class path
    (sklearn.ensemble.HistGradientBoostingClassifier), taken as named."""
    name = ALIASES.get(name, name)
    built_in = BY_TASK[task.name]
    if name in built_in:
        return built_in[name]
    if not name.startswith(_SKLEARN):
        known = ", ".join(sorted([*built_in, *ALIASES]))
        raise TrainingError(
            f"unknown estimator {name!r}: choose one of {known}, or a scikit-learn class path "
            "(sklearn.ensemble.HistGradientBoostingClassifier); a team's own model is TRAINING_PIPELINE"
        )
    module_name, _, attribute = name.rpartition(".")
    try:
        module = import_module(module_name)
    except ImportError as exc:
        raise TrainingError(f"estimator {name!r}: cannot import {module_name} ({exc})") from None
    found = getattr(module, attribute, None)
    if found is None:
        raise TrainingError(f"estimator {name!r}: {module_name} has no {attribute}")
    if not (isinstance(found, type) and issubclass(found, BaseEstimator) and hasattr(found, "predict")):
        raise TrainingError(f"estimator {name!r} is not a scikit-learn estimator that predicts")
    return found


def build_pipeline(
    frame: pd.DataFrame,
    target: str,
    estimator: str,
    params: dict[str, Any],
    seed: int,
    exclude: Iterable[str] = (),
    task: Task = CLASSIFICATION,
) -> Pipeline:
    estimator_class = resolve_estimator(estimator, task)
    numeric, categorical = feature_columns(frame, target, exclude)
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
    pipeline: Any = None,
    name: str = "",
    task: Task = CLASSIFICATION,
    weights: np.ndarray | None = None,
) -> Pipeline:
    """Fit on every column but the target and `exclude`: those are never model inputs.

    `features` are `prepare_features(frame, target, exclude)`, when the caller has them already.
    `pipeline` is an unfitted estimator to fit instead of the built-in one (a team's own, ml/plugin.py),
    `name` what an error calls it. `weights`, per row (ml/weights.py), reach the final estimator when
    its fit takes `sample_weight`; otherwise the fit is unweighted (`weight_argument` tells which).
    """
    exclude = list(exclude)
    # A team's code may fail in any way; the built-in pipeline only on bad data or params.
    failures: type[Exception] | tuple[type[Exception], ...] = (
        Exception if pipeline is not None else (TypeError, ValueError)
    )
    if pipeline is None:
        pipeline = build_pipeline(frame, target, estimator, params, seed, exclude, task)
    features = prepare_features(frame, target, exclude) if features is None else features
    try:
        pipeline.fit(features, task.labels(frame[target]), **fit_arguments(pipeline, weights))
    except failures as exc:
        raise TrainingError(f"training {name or estimator} failed: {exc}") from None
    return pipeline
