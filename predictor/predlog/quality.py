"""Live quality: the holdout's metrics, computed on labelled predictions, each with a 95% interval.

The metrics are defined as the pipeline scores a holdout (retraining/steps/evaluate.py): macro
averages beyond two classes, the second class of the sorted pair as the positive one, ROC AUC
one-vs-rest from the probabilities, so a live figure and a holdout figure can be compared.
Accuracy gets a Wilson score interval (exact enough at any count, never outside 0..1); the
others a percentile bootstrap. The bootstrap reweights rows (multinomial counts) instead of
resampling them, so each resample is a matrix product and a cumulative sum: a thousand
resamples of 100,000 labels take well under a second.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score, roc_auc_score

from predictor.contract import METRICS

RESAMPLES = 1000
Z95 = 1.959963984540054
# Resamples computed at once: bounds the weight matrix to about 40 MB.
_CHUNK_CELLS = 5_000_000


def wilson(successes: int, count: int, z: float = Z95) -> tuple[float, float]:
    if count == 0:
        return (0.0, 1.0)
    p = successes / count
    denominator = 1 + z * z / count
    centre = (p + z * z / (2 * count)) / denominator
    half = z * math.sqrt(p * (1 - p) / count + z * z / (4 * count * count)) / denominator
    # At 0 or all successes the bound is exactly 0 or 1; rounding would leave 0.9999999.
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == count else min(1.0, centre + half)
    return (low, high)


def score(truth: list[str], predicted: list[str], proba: np.ndarray | None, classes: list[str] | None) -> dict:
    """{"labels": n, "metrics": {name: {"value", "low", "high"}}} over the labelled predictions.

    A metric that does not apply (ROC AUC without probabilities or with one class present) is
    left out, as on the holdout.
    """
    count = len(truth)
    if count == 0:
        return {"labels": 0, "metrics": {}}
    y = np.asarray(truth, dtype=object).astype(str)
    p = np.asarray(predicted, dtype=object).astype(str)
    labels = sorted(set(y) | set(p))
    binary = len(labels) == 2
    average = "binary" if binary else "macro"
    extra = {"pos_label": labels[1]} if binary else {}
    correct = int((y == p).sum())
    low, high = wilson(correct, count)
    metrics: dict[str, dict[str, float]] = {
        "accuracy": {"value": float(accuracy_score(y, p)), "low": low, "high": high}
    }
    weights = _weights(count)
    for name, fn in (("precision", precision_score), ("recall", recall_score), ("f1", f1_score)):
        value = float(fn(y, p, average=average, zero_division=0, **extra))
        spread = _confusion_bootstrap(name, y, p, labels, binary, weights)
        metrics[name] = {"value": value, **_percentiles(spread)}
    auc = _auc(y, proba, classes, weights)
    if auc is not None:
        metrics["roc_auc"] = auc
    return {"labels": count, "metrics": {name: metrics[name] for name in METRICS if name in metrics}}


def _weights(count: int) -> list[np.ndarray]:
    """Bootstrap weights, in chunks of resamples: row i drawn w times in resample b."""
    rng = np.random.default_rng(20261129)
    per_chunk = max(1, min(RESAMPLES, _CHUNK_CELLS // count))
    chunks, left = [], RESAMPLES
    while left > 0:
        size = min(per_chunk, left)
        chunks.append(rng.multinomial(count, np.full(count, 1 / count), size=size).astype(np.float64))
        left -= size
    return chunks


def _percentiles(values: np.ndarray) -> dict[str, float | None]:
    """The 95% percentile interval; None where no resample could compute the metric."""
    values = values[~np.isnan(values)]
    if not len(values):
        return {"low": None, "high": None}
    low, high = np.percentile(values, [2.5, 97.5])
    return {"low": float(low), "high": float(high)}


def _confusion_bootstrap(
    name: str, y: np.ndarray, p: np.ndarray, labels: list[str], binary: bool, weights: list[np.ndarray]
) -> np.ndarray:
    k = len(labels)
    index = {label: i for i, label in enumerate(labels)}
    cell = np.array([index[t] * k + index[q] for t, q in zip(y, p, strict=True)])
    onehot = np.zeros((len(y), k * k))
    onehot[np.arange(len(y)), cell] = 1.0
    results = []
    for chunk in weights:
        confusion = (chunk @ onehot).reshape(-1, k, k)
        tp = np.diagonal(confusion, axis1=1, axis2=2)
        actual, guessed = confusion.sum(axis=2), confusion.sum(axis=1)
        precision = np.divide(tp, guessed, out=np.zeros_like(tp), where=guessed > 0)
        recall = np.divide(tp, actual, out=np.zeros_like(tp), where=actual > 0)
        both = precision + recall
        f1 = np.divide(2 * precision * recall, both, out=np.zeros_like(tp), where=both > 0)
        per_class = {"precision": precision, "recall": recall, "f1": f1}[name]
        results.append(per_class[:, 1] if binary else per_class.mean(axis=1))
    return np.concatenate(results)


def _auc(y: np.ndarray, proba: np.ndarray | None, classes: list[str] | None, weights: list[np.ndarray]) -> Any:
    if proba is None or classes is None:
        return None
    present = set(y)
    if len(present) < 2 or not present <= set(classes):
        return None
    try:
        if len(classes) == 2:
            value = float(roc_auc_score(y == classes[1], proba[:, 1]))
        else:
            value = float(roc_auc_score(y, proba, multi_class="ovr", labels=classes))
    except ValueError:
        return None
    if math.isnan(value):
        return None
    scored = [1] if len(classes) == 2 else range(len(classes))
    per_class = np.array([_weighted_auc(y == classes[c], proba[:, c], weights) for c in scored])
    # A class absent from a resample has no AUC there: the macro average is over the others.
    usable = ~np.isnan(per_class)
    spread = np.divide(
        np.where(usable, per_class, 0).sum(axis=0),
        usable.sum(axis=0),
        out=np.full(per_class.shape[1], np.nan),
        where=usable.any(axis=0),
    )
    return {"value": value, **_percentiles(spread)}


def _weighted_auc(positive: np.ndarray, scores: np.ndarray, weights: list[np.ndarray]) -> np.ndarray:
    """ROC AUC of each reweighted resample (Mann-Whitney, ties counted half)."""
    order = np.argsort(scores, kind="stable")
    _, starts = np.unique(scores[order], return_index=True)
    pos, neg = positive[order].astype(float), (~positive[order]).astype(float)
    results = []
    for chunk in weights:
        w = chunk[:, order]
        pos_group = np.add.reduceat(w * pos, starts, axis=1)
        neg_group = np.add.reduceat(w * neg, starts, axis=1)
        below = np.cumsum(neg_group, axis=1) - neg_group
        wins = (pos_group * (below + 0.5 * neg_group)).sum(axis=1)
        pairs = pos_group.sum(axis=1) * neg_group.sum(axis=1)
        results.append(np.divide(wins, pairs, out=np.full(len(wins), np.nan), where=pairs > 0))
    return np.concatenate(results)
