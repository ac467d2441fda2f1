"""Live quality: the holdout's metrics, computed on labelled predictions, each with a 95% interval.

Every figure is computed by ml.metrics, the code that scores a holdout (ml/evaluate.py): macro
averages beyond two classes, the version's positive class for two (ml.positive.served_positive),
ROC AUC from the probabilities, so a live figure and a holdout figure are the same metric. Labels
and predictions are compared as canonical classes: feedback of 1.0 on a prediction of "1" is right.
Accuracy gets a Wilson score interval (exact enough at any count, never outside 0..1); the
others a percentile bootstrap. The bootstrap reweights rows (multinomial counts) instead of
resampling them, so each resample is a matrix product and a cumulative sum.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

import numpy as np

from ml.metrics import LABEL_METRICS, binary_auc, label_metric, label_metrics, positive_indices, roc_auc
from ml.positive import canonical, normalise
from ml.task import CLASSIFICATION

RESAMPLES = 1000
Z95 = 1.959963984540054
# Resamples computed at once: bounds the weight matrix to about 40 MB.
_CHUNK_CELLS = 5_000_000
# ROC AUC's interval is bootstrapped on at most this many rows (see `_auc`).
AUC_BOOTSTRAP_ROWS = 2_000


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


def score(
    truth: list[str],
    predicted: list[str],
    proba: np.ndarray | None,
    classes: list[str] | None,
    positive: str | None = None,
) -> dict:
    """{"labels": n, "metrics": {name: {"value", "low", "high"}}} over the labelled predictions.

    A metric that does not apply (ROC AUC without probabilities or with one class present) is
    left out, as on the holdout.
    """
    count = len(truth)
    if count == 0:
        return {"labels": 0, "metrics": {}}
    y = normalise(truth)
    p = normalise(predicted)
    values = label_metrics(y, p, positive)
    low, high = wilson(int((y == p).sum()), count)
    metrics: dict[str, dict[str, float]] = {"accuracy": {"value": values["accuracy"], "low": low, "high": high}}
    cells = _cells(y, p)
    for name in ("precision", "recall", "f1"):
        metrics[name] = {"value": values[name], **_percentiles(_cell_bootstrap(name, cells, positive))}
    if proba is not None and classes is not None:
        auc = _auc(y, proba, list(normalise(classes)), positive)
        if auc is not None:
            metrics["roc_auc"] = auc
    return {"labels": count, "metrics": {name: metrics[name] for name in CLASSIFICATION.metrics if name in metrics}}


# The metrics a confusion matrix gives: ROC AUC needs every row's probabilities.
CONFUSION_METRICS = LABEL_METRICS


def score_counts(
    cells: dict[tuple[str, str], int], metric: str, positive: str | None = None
) -> dict[str, float] | None:
    """{"value", "low", "high"} of one confusion metric over {(truth, predicted): count}, the
    same figures `score` gives for those rows; None for ROC AUC or no counts.

    The interval is the row bootstrap's own: a resample of n rows lands in the cells as a
    multinomial draw of n over the cells' shares, so resampling the cells costs the same at ten
    labels or ten million.
    """
    if metric not in CONFUSION_METRICS or not cells:
        return None
    truth, predicted, counts = _ordered(cells)
    value = float(_confusion_scores(metric, truth, predicted, counts[None, :], positive)[0])
    if metric == "accuracy":
        low, high = wilson(int(counts[truth == predicted].sum()), int(counts.sum()))
        return {"value": value, "low": low, "high": high}
    return {"value": value, **_percentiles(_cell_bootstrap(metric, (truth, predicted, counts), positive))}


def _cells(y: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The distinct (truth, predicted) pairs and how many rows each holds."""
    return _ordered(Counter(zip(y.tolist(), p.tolist(), strict=True)))


def _ordered(cells: dict[tuple[str, str], int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cells of canonical classes in one order (sorted), so the same counts always get the same
    resamples; cells that are one once normalised ("1.0" and "1") are added together."""
    counts: Counter = Counter()
    for (t, p), n in cells.items():
        counts[(canonical(t), canonical(p))] += n
    keys = sorted(counts)
    truth = np.array([t for t, _ in keys], dtype=object)
    predicted = np.array([p for _, p in keys], dtype=object)
    return truth, predicted, np.array([counts[key] for key in keys], dtype=float)


def _cell_bootstrap(
    name: str, cells: tuple[np.ndarray, np.ndarray, np.ndarray], positive: str | None = None
) -> np.ndarray:
    truth, predicted, counts = cells
    total = int(counts.sum())
    draws = np.random.default_rng(20261129).multinomial(total, counts / total, size=RESAMPLES).astype(float)
    return _confusion_scores(name, truth, predicted, draws, positive)


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


def _confusion_scores(
    name: str, truth: np.ndarray, predicted: np.ndarray, weights: np.ndarray, positive: str | None = None
) -> np.ndarray:
    """`name` (ml.metrics' conventions: the positive class's, else the macro average over the
    classes seen) for each row of `weights`, the number of times each (truth, predicted) cell is counted."""
    t, q, index, k = positive_indices(positive, truth, predicted)
    return label_metric(name, weights, t, q, k, index, list(range(k)))


def _auc(y: np.ndarray, proba: np.ndarray | None, classes: list[str] | None, positive: str | None = None) -> Any:
    """ROC AUC (one-vs-rest macro beyond two classes) on every row, with a bootstrap interval.

    A resample of every row costs resamples x rows; beyond AUC_BOOTSTRAP_ROWS labels the spread is
    bootstrapped on a random subsample of that size and scaled down by sqrt(subsample / rows)
    around the full value. AUC is a U-statistic, whose spread shrinks as 1 / sqrt(rows), so the
    interval keeps its width at any size while its cost stops growing.
    """
    if proba is None or classes is None:
        return None
    value = roc_auc(y, classes, proba, positive)
    if value is None:
        return None
    scale = 1.0
    if len(y) > AUC_BOOTSTRAP_ROWS:
        pick = np.random.default_rng(20261130).choice(len(y), AUC_BOOTSTRAP_ROWS, replace=False)
        scale = math.sqrt(AUC_BOOTSTRAP_ROWS / len(y))
        y, proba = y[pick], proba[pick]
    scored = _auc_columns(classes, positive)
    weights = _weights(len(y))
    spread = _macro([_weighted_auc(y == classes[c], proba[:, c], weights) for c in scored])
    if scale != 1.0:
        centre = _macro([_weighted_auc(y == classes[c], proba[:, c], [np.ones((1, len(y)))]) for c in scored])[0]
        spread = value + (spread - centre) * scale
    return {"value": value, **_percentiles(spread)}


def _auc_columns(classes: list[str], positive: str | None) -> list[int]:
    """The probability columns ROC AUC averages: the positive class's, else sklearn's."""
    if positive is not None:
        return [classes.index(positive)]
    return [1] if len(classes) == 2 else list(range(len(classes)))


def _macro(per_class: list[np.ndarray]) -> np.ndarray:
    """The mean over classes of each resample's AUC; a class absent from a resample has no AUC
    there, and the mean is over the others."""
    stacked = np.array(per_class)
    usable = ~np.isnan(stacked)
    return np.divide(
        np.where(usable, stacked, 0).sum(axis=0),
        usable.sum(axis=0),
        out=np.full(stacked.shape[1], np.nan),
        where=usable.any(axis=0),
    )


def _weighted_auc(positive: np.ndarray, scores: np.ndarray, weights: list[np.ndarray]) -> np.ndarray:
    """ROC AUC of each reweighted resample, a chunk of resamples at a time."""
    return np.concatenate([binary_auc(chunk, positive, scores) for chunk in weights])


def score_sums(sums: dict[str, float]) -> dict:
    """A regression's live RMSE and MAE, each with a 95% interval, from the count and the sums of
    the errors' squares, absolute values and fourth powers (`selectors.regression_sums`): the mean
    squared and the mean absolute error get normal intervals from their sample variances, and
    RMSE's bounds are the square roots of the mean squared error's (clipped at 0)."""
    n = int(sums["n"])
    if n == 0:
        return {"labels": 0, "metrics": {}}
    mse, mae = sums["squared"] / n, sums["absolute"] / n
    half = Z95 / math.sqrt(n)
    spread_sq = math.sqrt(max(sums["fourth"] / n - mse * mse, 0.0) * n / max(n - 1, 1))
    spread_abs = math.sqrt(max(mse - mae * mae, 0.0) * n / max(n - 1, 1))
    low_mse, high_mse = max(mse - half * spread_sq, 0.0), mse + half * spread_sq
    return {
        "labels": n,
        "metrics": {
            "rmse": {"value": math.sqrt(mse), "low": math.sqrt(low_mse), "high": math.sqrt(high_mse)},
            "mae": {"value": mae, "low": max(mae - half * spread_abs, 0.0), "high": mae + half * spread_abs},
        },
    }
