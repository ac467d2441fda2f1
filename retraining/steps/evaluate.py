"""Score a model on holdout rows: the metrics the policy compares, and the paired predictions
(labels, and class probabilities where the model gives them) the significance gate resamples."""

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score, roc_auc_score

from retraining.steps.train import prepare_features

METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc")


@dataclass
class Score:
    metrics: dict[str, float]
    predictions: np.ndarray
    probabilities: np.ndarray | None = None
    classes: list[str] = field(default_factory=list)


def evaluate(model: Any, holdout: pd.DataFrame, target: str) -> Score:
    """Accuracy, precision, recall, F1 (macro over classes beyond two) and ROC AUC where it applies."""
    truth = holdout[target].astype(str).to_numpy()
    features = prepare_features(holdout, target)
    predicted = np.asarray(model.predict(features)).astype(str)
    classes = sorted(set(truth) | set(predicted))
    binary = len(classes) == 2
    average = "binary" if binary else "macro"
    extra = {"pos_label": classes[1]} if binary else {}
    metrics = {
        "accuracy": float(accuracy_score(truth, predicted)),
        "precision": float(precision_score(truth, predicted, average=average, zero_division=0, **extra)),
        "recall": float(recall_score(truth, predicted, average=average, zero_division=0, **extra)),
        "f1": float(f1_score(truth, predicted, average=average, zero_division=0, **extra)),
    }
    if not hasattr(model, "predict_proba"):
        return Score(metrics=metrics, predictions=predicted)
    model_classes = [str(c) for c in model.classes_]
    proba = np.asarray(model.predict_proba(features), dtype=np.float64)
    auc = _roc_auc(proba, model_classes, truth)
    if auc is not None:
        metrics["roc_auc"] = auc
    return Score(metrics=metrics, predictions=predicted, probabilities=proba, classes=model_classes)


def _roc_auc(proba: np.ndarray, model_classes: list[str], truth: np.ndarray) -> float | None:
    present = set(truth)
    if len(present) < 2 or not present <= set(model_classes):
        return None
    try:
        if len(model_classes) == 2:
            return float(roc_auc_score(truth == model_classes[1], proba[:, 1]))
        return float(roc_auc_score(truth, proba, multi_class="ovr", labels=model_classes))
    except ValueError:
        return None
