"""The metrics the policy compares, with sklearn's conventions, over weighted rows.

Written once for every caller: evaluate() scores a model (every row weighs 1), the gate's
resampling scores thousands of resamples at once (one row of weights each), and live quality
(predictor/predlog/quality.py) scores labelled predictions and their bootstrap. Sharing the code
keeps the gate's difference equal to the difference of the recorded metrics and a live figure equal
to the holdout's definition, and skips sklearn's input checks, which cost more than the arithmetic
on a holdout of a few thousand rows.
"""

from typing import Any

import numpy as np
import pandas as pd

LABEL_METRICS = ("accuracy", "precision", "recall", "f1")


def label_metric(
    metric: str,
    weights: np.ndarray,
    truth: np.ndarray,
    predicted: np.ndarray,
    k: int,
    positive: int | None,
    labels: list[int],
) -> np.ndarray:
    """One value per row of `weights` (resamples x rows or cells). `truth` and `predicted` are class
    indices below `k`; with a `positive` class the binary metric, else the macro average over `labels`."""
    return _from_counts(metric, _counts(weights, truth, predicted, k), positive, labels)


def _counts(weights: np.ndarray, truth: np.ndarray, predicted: np.ndarray, k: int) -> tuple[np.ndarray, ...]:
    """Per class, the weighted rows that are of it, predicted as it, and both; and all of them."""
    onehot = np.eye(k)
    hits = weights @ (onehot[truth] * onehot[predicted])
    return weights @ onehot[truth], weights @ onehot[predicted], hits, weights.sum(axis=1)


def _from_counts(metric: str, counts: tuple[np.ndarray, ...], positive: int | None, labels: list[int]) -> np.ndarray:
    true_count, predicted_count, hits, total = counts
    if metric == "accuracy":
        return hits.sum(axis=1) / total
    if metric == "precision":
        per_class = _ratio(hits, predicted_count)
    elif metric == "recall":
        per_class = _ratio(hits, true_count)
    else:
        per_class = _ratio(2 * hits, predicted_count + true_count)
    return per_class[:, positive] if positive is not None else per_class[:, labels].mean(axis=1)


def label_metrics(truth: np.ndarray, predicted: np.ndarray, positive: str | None = None) -> dict[str, float]:
    """Accuracy, precision, recall and F1 over canonical labels (ml.positive). With a `positive`
    class, precision, recall and F1 are that class's (one against the rest, whatever other labels
    appear); without one, sklearn's defaults: the second of two classes, macro averages beyond."""
    t, p, index, k = positive_indices(positive, truth, predicted)
    ones = np.ones((1, len(t)))
    # The counts once for the four metrics (each made three one-hot copies of the rows).
    counts = _counts(ones, t, p, k)
    return {m: float(_from_counts(m, counts, index, list(range(k)))[0]) for m in LABEL_METRICS}


def positive_indices(positive: str | None, *labels: np.ndarray) -> tuple[Any, ...]:
    """`class_indices` of the labels, then the positive class's index (None: sklearn's default,
    the second of two classes, else macro averages), then how many classes. A positive class
    found in none of the labels still gets an index, so its metrics are 0, not another class's."""
    if positive is None:
        *indices, k = class_indices(*labels)
        return (*indices, 1 if k == 2 else None, k)
    *indices, index, k = class_indices(*labels, np.array([positive], dtype=object))
    return (*indices, int(index[0]), k)


def class_indices(*labels: np.ndarray) -> tuple[np.ndarray, ...]:
    """Each array's labels as indices into the sorted classes of all of them, and how many classes:
    hashed once per row in pandas, not looked up row by row in a Python loop."""
    codes, distinct = pd.factorize(np.concatenate(labels), sort=True, use_na_sentinel=False)
    return (*np.split(codes.astype(np.int64), np.cumsum([len(values) for values in labels])[:-1]), len(distinct))


def weighted_auc(
    weights: np.ndarray, truth: np.ndarray, classes: list[str], probabilities: np.ndarray, positive: str | None = None
) -> np.ndarray:
    """ROC AUC per row of weights: with a `positive` class, its probability against every other
    row (NaN when the model does not know that class); without one, sklearn's: the second class's
    probability for two classes, else the mean of one-vs-rest AUCs over the model's classes.
    NaN where undefined."""
    if positive is not None:
        if positive not in classes:
            return np.full(len(weights), np.nan)
        column = classes.index(positive)
        return binary_auc(weights, truth == positive, probabilities[:, column])
    if len(classes) == 2:
        return binary_auc(weights, truth == classes[1], probabilities[:, 1])
    return np.mean([binary_auc(weights, truth == c, probabilities[:, i]) for i, c in enumerate(classes)], axis=0)


def roc_auc(
    truth: np.ndarray, classes: list[str], probabilities: np.ndarray, positive: str | None = None
) -> float | None:
    """ROC AUC of one model over every row (`weighted_auc`), or None where it does not apply:
    fewer than two classes in the labels, a label the model does not know, a class with no rows."""
    present = set(truth)
    if len(present) < 2 or not present <= set(classes):
        return None
    auc = float(weighted_auc(np.ones((1, len(truth))), truth, classes, probabilities, positive)[0])
    return None if np.isnan(auc) else auc


def binary_auc(weights: np.ndarray, positive: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """The probability that a positive outscores a negative (ties count half), with row weights:
    rows are sorted once and tied scores grouped, so each resample is a few vectorised sums."""
    order = np.argsort(scores, kind="stable")
    ordered = scores[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    w = weights[:, order]
    pos = np.add.reduceat(w * positive[order], starts, axis=1)
    neg = np.add.reduceat(w * ~positive[order], starts, axis=1)
    below = np.cumsum(neg, axis=1) - neg
    with np.errstate(invalid="ignore", divide="ignore"):
        return (pos * (below + 0.5 * neg)).sum(axis=1) / (pos.sum(axis=1) * neg.sum(axis=1))


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """0 where the denominator is 0, as sklearn's zero_division=0."""
    return np.divide(numerator, denominator, out=np.zeros_like(numerator), where=denominator > 0)


REGRESSION_METRICS = ("rmse", "mae", "r2")


def regression_metrics(truth: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """RMSE, MAE and R² (sklearn's definitions) of numeric predictions; R² is left out when the
    truth does not vary (it is undefined there)."""
    error = np.asarray(predicted, dtype=np.float64) - np.asarray(truth, dtype=np.float64)
    squared = float(np.mean(error**2))
    metrics = {"rmse": float(np.sqrt(squared)), "mae": float(np.mean(np.abs(error)))}
    spread = float(np.mean((truth - np.mean(truth)) ** 2))
    if spread > 0:
        metrics["r2"] = 1.0 - squared / spread
    return metrics
