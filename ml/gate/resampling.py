"""Paired differences of a metric between two models scored on the same rows, with their spread.

For label metrics, two resamplings, both paired (a row's two outputs stay together):
- the bootstrap draws rows with replacement: the spread of the difference, for its interval;
- the randomization (sign-flip) test swaps the two models' outputs on each row with probability
  1/2: the difference's distribution when the models are interchangeable, for an exact p-value
  even when they disagree on a handful of rows (for accuracy it is McNemar's exact test).
Label metrics depend on a row only through (truth, champion's label, challenger's label), so rows
sharing that triple are interchangeable and both resamplings work on those few cells: instant.

ROC AUC depends on every row's probabilities: resampling it costs seconds, so its difference gets
DeLong's standard error instead, the method made for two AUCs measured on the same rows.
"""

from dataclasses import dataclass

import numpy as np

from ml.evaluate import Score
from ml.metrics import label_metric, positive_indices


@dataclass
class LossDifference:
    """A regression metric's paired difference (challenger - champion) and its standard error, and
    the mean per-row loss gain (champion's loss - challenger's, positive when the challenger is
    better) with its standard error: what the test reads."""

    difference: float
    error: float
    loss_gain: float
    loss_error: float


def loss_difference(metric: str, truth: np.ndarray, champion: np.ndarray, challenger: np.ndarray) -> LossDifference:
    """Per-row losses of both models: squared errors for RMSE and R², absolute errors for MAE. The
    metric's difference gets the standard error of its per-row influence (the delta method: RMSE is
    the square root of the mean squared error, R² one minus it over the truth's spread)."""
    rows = len(truth)
    power = 1 if metric == "mae" else 2
    ours, theirs = np.abs(champion - truth) ** power, np.abs(challenger - truth) ** power
    gained = ours - theirs
    if metric == "mae":
        difference, influence = float(theirs.mean() - ours.mean()), theirs - ours
    elif metric == "rmse":
        rmse_ours, rmse_theirs = np.sqrt(ours.mean()), np.sqrt(theirs.mean())
        difference = float(rmse_theirs - rmse_ours)
        # d sqrt(m) = dm / (2 sqrt(m)); a model with no error at all contributes its losses as they are.
        influence = theirs / (2 * rmse_theirs or 1.0) - ours / (2 * rmse_ours or 1.0)
    else:
        spread = float(np.mean((truth - truth.mean()) ** 2)) or 1.0
        difference, influence = float(gained.mean() / spread), gained / spread
    return LossDifference(
        difference=difference,
        error=float(np.std(influence, ddof=1) / np.sqrt(rows)),
        loss_gain=float(gained.mean()),
        loss_error=float(np.std(gained, ddof=1) / np.sqrt(rows)),
    )


class ResamplingError(ValueError):
    """The two models' outputs cannot be resampled for this metric."""


@dataclass
class Resampled:
    difference: float
    bootstrap: np.ndarray
    null: np.ndarray


def label_metric_differences(
    metric: str,
    truth: np.ndarray,
    ours: np.ndarray,
    theirs: np.ndarray,
    resamples: int,
    rng: np.random.Generator,
    positive: str | None = None,
) -> Resampled:
    t, a, b, index, k = positive_indices(positive, truth, ours, theirs)
    observed, counts = np.unique(t * k * k + a * k + b, return_counts=True)
    # Every observed cell and its mirror (the two labels swapped), where flipped rows land.
    cells = np.union1d(observed, (observed // (k * k)) * k * k + (observed % k) * k + (observed // k) % k)
    weight = np.zeros(len(cells))
    weight[np.searchsorted(cells, observed)] = counts
    t_cell, a_cell, b_cell = cells // (k * k), (cells // k) % k, cells % k
    mirror = np.searchsorted(cells, t_cell * k * k + b_cell * k + a_cell)
    rows = len(truth)
    drawn = rng.multinomial(rows, weight / rows, size=resamples)
    flipped = rng.binomial(weight.astype(np.int64), 0.5, size=(resamples, len(cells)))
    swapped = weight - flipped + flipped[:, mirror]
    weights = np.vstack([weight, drawn, swapped]).astype(np.float64)
    # The positive class's figure (ml.metrics.positive_indices); without one, beyond two classes,
    # macro averages over the classes seen in the labels or that model's predictions.
    scores = [
        label_metric(metric, weights, t_cell, p_cell, k, index, np.union1d(t, p).tolist())
        for p_cell, p in ((a_cell, a), (b_cell, b))
    ]
    deltas = scores[1] - scores[0]
    return Resampled(float(deltas[0]), deltas[1 : resamples + 1], deltas[resamples + 1 :])


def auc_difference(truth: np.ndarray, champion: Score, challenger: Score) -> tuple[float, float]:
    """The paired difference of ROC AUCs (challenger - champion) and its standard error by DeLong's
    method, in its per-row form: each row's influence on both AUCs, so rows that are positive for
    one class and negative for the others (one-vs-rest, macro-averaged) are counted once."""
    if champion.probabilities is None or challenger.probabilities is None:
        raise ResamplingError("ROC AUC needs class probabilities, and a model gave none")
    positive = challenger.positive
    if positive is not None:
        # One class's scores against the rest: each model's own column for it, whatever else it knows.
        missing = [s for s in (champion, challenger) if positive not in s.classes]
        if missing:
            raise ResamplingError(f"ROC AUC of class {positive!r} needs its probability, and a model gives none")
        pairs = [(positive, challenger.classes.index(positive), champion.classes.index(positive))]
    else:
        if champion.classes != challenger.classes:
            raise ResamplingError(f"the models score different classes: {champion.classes} and {challenger.classes}")
        classes = champion.classes
        columns = [1] if len(classes) == 2 else list(range(len(classes)))
        pairs = [(classes[c], c, c) for c in columns]
    difference, influence = 0.0, np.zeros(len(truth))
    for label, ours, theirs in pairs:
        positive_rows = truth == label
        if positive_rows.all() or not positive_rows.any():
            raise ResamplingError(f"ROC AUC needs rows of class {label!r} and of the others")
        for sign, score in ((1, challenger.probabilities[:, ours]), (-1, champion.probabilities[:, theirs])):
            auc, rows = _auc_influence(positive_rows, score)
            difference += sign * auc / len(pairs)
            influence += sign * rows / len(pairs)
    return difference, float(np.sqrt(np.sum(influence**2)))


def _auc_influence(positive: np.ndarray, scores: np.ndarray) -> tuple[float, np.ndarray]:
    """The AUC and each row's influence on it: for a positive, its share of negatives scored below
    it (ties half), for a negative, its share of positives scored above it, centred and scaled."""
    positives, negatives = np.sort(scores[positive]), np.sort(scores[~positive])
    below = np.searchsorted(negatives, scores, "left")
    tied_negatives = np.searchsorted(negatives, scores, "right") - below
    at_or_below = np.searchsorted(positives, scores, "right")
    tied_positives = at_or_below - np.searchsorted(positives, scores, "left")
    over_negatives = (below + 0.5 * tied_negatives) / len(negatives)
    over_positives = (len(positives) - at_or_below + 0.5 * tied_positives) / len(positives)
    auc = float(over_negatives[positive].mean())
    rows = np.where(positive, (over_negatives - auc) / len(positives), (over_positives - auc) / len(negatives))
    return auc, rows
