"""Score a model on holdout rows: the metrics the policy compares, and the paired predictions
(labels, and class probabilities where the model gives them) the significance gate resamples."""

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.pipeline import Pipeline
from sklearn.tree import DecisionTreeClassifier

from ml.features import prepare_features
from ml.metrics import label_metrics, regression_metrics, roc_auc
from ml.positive import normalise
from ml.task import CLASSIFICATION, REGRESSION, Task

# Classifiers whose predict() is, in sklearn's own code, the most probable class of predict_proba():
# their labels are read off the probabilities, one pass over the holdout instead of two.
_PREDICT_IS_ARGMAX = (RandomForestClassifier, DecisionTreeClassifier, HistGradientBoostingClassifier)


@dataclass
class Score:
    metrics: dict[str, float]
    predictions: np.ndarray
    probabilities: np.ndarray | None = None
    classes: list[str] = field(default_factory=list)
    # The class precision, recall, F1 and ROC AUC are for (ml.positive); None beyond two classes.
    positive: str | None = None
    # What the predictions are: classes (text) or numbers (a regression's, float64).
    task: str = CLASSIFICATION.name


def evaluate(
    model: Any, holdout: pd.DataFrame, target: str, positive: str | None = None, task: Task = CLASSIFICATION
) -> Score:
    """Accuracy, precision, recall, F1 (on the `positive` class, macro over classes beyond two) and
    ROC AUC where it applies (ml.metrics). Labels and the model's answers are compared as canonical
    classes (ml.positive), so a model trained on 0/1 scores the same on labels written 0.0/1.0.
    A regression's model is scored on RMSE, MAE and R² of its numeric answers."""
    truth = task.labels(holdout[target])
    features = _inputs(model, prepare_features(holdout, target))
    if task is REGRESSION:
        predicted = np.asarray(model.predict(features), dtype=np.float64).reshape(len(truth))
        return Score(metrics=regression_metrics(truth, predicted), predictions=predicted, task=task.name)
    if not hasattr(model, "predict_proba"):
        predicted = normalise(model.predict(features))
        return Score(metrics=label_metrics(truth, predicted, positive), predictions=predicted, positive=positive)
    model_classes = list(normalise(model.classes_))
    proba = np.asarray(model.predict_proba(features), dtype=np.float64)
    final = model.steps[-1][1] if isinstance(model, Pipeline) else model
    if isinstance(final, _PREDICT_IS_ARGMAX):
        predicted = np.asarray(model_classes)[proba.argmax(axis=1)]
    else:
        predicted = normalise(model.predict(features))
    metrics = label_metrics(truth, predicted, positive)
    auc = roc_auc(truth, model_classes, proba, positive)
    if auc is not None:
        metrics["roc_auc"] = auc
    return Score(metrics, predicted, proba, model_classes, positive)


def _inputs(model: Any, features: pd.DataFrame) -> pd.DataFrame:
    """The columns the model was fitted on, where it says which: a team's estimator may refuse
    columns it never saw (ids, exclusions), where the built-in pipeline selects its own."""
    names = getattr(model, "feature_names_in_", None)
    if names is None or not set(names) <= set(features.columns):
        return features
    return features[list(names)]


def restrict(score: Score, truth: np.ndarray, keep: np.ndarray) -> Score:
    """The same model's score on a subset of the rows it was scored on (`truth` is the subset's labels);
    the score itself when the subset is every row."""
    if keep.all():
        return score
    predicted = score.predictions[keep]
    if score.task == REGRESSION.name:
        return Score(regression_metrics(truth, predicted), predicted, task=score.task)
    metrics = label_metrics(truth, predicted, score.positive)
    proba = score.probabilities[keep] if score.probabilities is not None else None
    auc = roc_auc(truth, score.classes, proba, score.positive) if proba is not None else None
    if auc is not None:
        metrics["roc_auc"] = auc
    return Score(metrics, predicted, proba, score.classes, score.positive)
