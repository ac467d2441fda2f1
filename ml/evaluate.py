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
from ml.metrics import label_metrics, roc_auc
from ml.task import CLASSIFICATION

# Classifiers whose predict() is, in sklearn's own code, the most probable class of predict_proba():
# their labels are read off the probabilities, one pass over the holdout instead of two.
_PREDICT_IS_ARGMAX = (RandomForestClassifier, DecisionTreeClassifier, HistGradientBoostingClassifier)


@dataclass
class Score:
    metrics: dict[str, float]
    predictions: np.ndarray
    probabilities: np.ndarray | None = None
    classes: list[str] = field(default_factory=list)


def evaluate(model: Any, holdout: pd.DataFrame, target: str) -> Score:
    """Accuracy, precision, recall, F1 (macro over classes beyond two) and ROC AUC where it applies,
    with sklearn's conventions (ml.metrics)."""
    truth = CLASSIFICATION.labels(holdout[target])
    features = prepare_features(holdout, target)
    if not hasattr(model, "predict_proba"):
        predicted = np.asarray(model.predict(features)).astype(str)
        return Score(metrics=label_metrics(truth, predicted), predictions=predicted)
    model_classes = [str(c) for c in model.classes_]
    proba = np.asarray(model.predict_proba(features), dtype=np.float64)
    final = model.steps[-1][1] if isinstance(model, Pipeline) else model
    if isinstance(final, _PREDICT_IS_ARGMAX):
        predicted = np.asarray(model_classes)[proba.argmax(axis=1)]
    else:
        predicted = np.asarray(model.predict(features)).astype(str)
    metrics = label_metrics(truth, predicted)
    auc = roc_auc(truth, model_classes, proba)
    if auc is not None:
        metrics["roc_auc"] = auc
    return Score(metrics=metrics, predictions=predicted, probabilities=proba, classes=model_classes)


def restrict(score: Score, truth: np.ndarray, keep: np.ndarray) -> Score:
    """The same model's score on a subset of the rows it was scored on (`truth` is the subset's labels);
    the score itself when the subset is every row."""
    if keep.all():
        return score
    predicted = score.predictions[keep]
    metrics = label_metrics(truth, predicted)
    proba = score.probabilities[keep] if score.probabilities is not None else None
    auc = roc_auc(truth, score.classes, proba) if proba is not None else None
    if auc is not None:
        metrics["roc_auc"] = auc
    return Score(metrics=metrics, predictions=predicted, probabilities=proba, classes=score.classes)
