"""Is the challenger's gain on this holdout more than noise? The paired comparison behind the gate.

Both models are scored on the same rows, so the comparison is paired: resampling rows (a paired
bootstrap) keeps each row's two predictions together and measures the uncertainty of the
*difference*, which is far smaller than that of either score when the models mostly agree. It works
for every metric the policy offers. McNemar's exact test is kept as an option for accuracy.

Everything is seeded: the same rows and predictions always give the same interval and p-value.
"""

from dataclasses import asdict, dataclass

import numpy as np
from scipy.stats import binomtest, norm

from retraining.steps.evaluate import Score

TESTS = ("bootstrap", "mcnemar")
LABEL_METRICS = ("accuracy", "precision", "recall", "f1")
RESAMPLES = 2000
SEED = 20261129
POWER = 0.8
# Rows x resamples held in memory at once when resampling row by row (ROC AUC).
_CHUNK_CELLS = 4_000_000


class ComparisonError(ValueError):
    """The two models' outputs cannot be compared on this metric (no probabilities, other classes)."""


@dataclass(frozen=True)
class Comparison:
    """The paired difference challenger - champion on the same rows, with its uncertainty."""

    test: str
    metric: str
    rows: int
    disagreements: int
    identical: bool
    difference: float
    low: float
    high: float
    level: float
    p_value: float
    detectable: float

    def as_dict(self) -> dict[str, object]:
        return asdict(self)

    def describe(self) -> list[str]:
        """The comparison in plain words, for the run's reasons and notifications."""
        confidence = f"{1 - self.level:.0%}"
        return [
            f"{self.metric} difference {_points(self.difference)} points on {self.rows} rows, "
            f"{confidence} interval [{_points(self.low)}, {_points(self.high)}], "
            f"p-value {self.p_value:.4f} ({_TEST_NAMES[self.test]}); "
            f"the models disagree on {self.disagreements} rows",
            f"this holdout of {self.rows} rows cannot detect a gain in {self.metric} below "
            f"{self.detectable * 100:.1f} points",
        ]


_TEST_NAMES = {"bootstrap": "paired bootstrap", "mcnemar": "McNemar"}


def compare(
    metric: str,
    truth: np.ndarray,
    champion: Score,
    challenger: Score,
    *,
    test: str = "bootstrap",
    level: float = 0.05,
    resamples: int = RESAMPLES,
    seed: int = SEED,
) -> Comparison:
    """Compare two models scored on the same rows (`truth` and both scores in the same row order).

    The interval is the two-sided (1 - level) interval of the difference; `detectable` is the
    smallest true gain this holdout would find significant 80% of the time, from the observed
    spread of the paired difference: (z_{1-level/2} + z_{0.8}) x its standard error.
    """
    truth = np.asarray(truth).astype(str)
    ours, theirs = np.asarray(champion.predictions).astype(str), np.asarray(challenger.predictions).astype(str)
    if not len(truth) == len(ours) == len(theirs):
        raise ComparisonError(f"rows differ: {len(truth)} labels, {len(ours)} and {len(theirs)} predictions")
    if len(truth) == 0:
        raise ComparisonError("no row to compare the models on")
    if not 0 < level < 1:
        raise ComparisonError(f"the significance level must be strictly between 0 and 1, got {level}")
    if test not in TESTS:
        raise ComparisonError(f"unknown test {test!r}: choose one of {', '.join(TESTS)}")
    if test == "mcnemar" and metric != "accuracy":
        raise ComparisonError(f"McNemar's test compares accuracy only, not {metric}")
    rows = len(truth)
    disagreements = int(np.sum(ours != theirs))
    identical = disagreements == 0
    if metric == "roc_auc":
        identical = identical and _same_probabilities(champion, challenger)
    if test == "mcnemar":
        return _mcnemar(truth, ours, theirs, level, disagreements, identical)
    rng = np.random.default_rng(seed)
    if metric in LABEL_METRICS:
        difference, deltas = _label_deltas(metric, truth, ours, theirs, resamples, rng)
    elif metric == "roc_auc":
        difference, deltas = _auc_deltas(truth, champion, challenger, resamples, rng)
    else:
        raise ComparisonError(f"unknown metric {metric!r}: choose one of {', '.join((*LABEL_METRICS, 'roc_auc'))}")
    deltas = deltas[~np.isnan(deltas)]
    if len(deltas) < 2:
        raise ComparisonError(f"too few rows of each class to resample {metric}")
    low, high = np.quantile(deltas, [level / 2, 1 - level / 2])
    below, above = int(np.sum(deltas <= 0)), int(np.sum(deltas >= 0))
    p_value = 1.0 if identical else min(1.0, 2 * (min(below, above) + 1) / (len(deltas) + 1))
    error = float(np.std(deltas, ddof=1))
    return Comparison(
        test, metric, rows, disagreements, identical, float(difference), float(low), float(high), level,
        p_value, _detectable(error, rows, level),
    )  # fmt: skip


def mcnemar_p_value(truth: np.ndarray, champion: np.ndarray, challenger: np.ndarray) -> float:
    """Exact McNemar test on the rows where exactly one of the two models is right."""
    champion_right = champion == truth
    challenger_right = challenger == truth
    only_champion = int(np.sum(champion_right & ~challenger_right))
    only_challenger = int(np.sum(challenger_right & ~champion_right))
    discordant = only_champion + only_challenger
    if discordant == 0:
        return 1.0
    return float(binomtest(only_challenger, discordant, 0.5).pvalue)


def _mcnemar(
    truth: np.ndarray, ours: np.ndarray, theirs: np.ndarray, level: float, disagreements: int, identical: bool
) -> Comparison:
    """McNemar's p-value, with the Wald interval of the paired difference of accuracies."""
    rows = len(truth)
    gained = int(np.sum((theirs == truth) & (ours != truth)))
    lost = int(np.sum((ours == truth) & (theirs != truth)))
    difference = (gained - lost) / rows
    error = np.sqrt(max(gained + lost - (gained - lost) ** 2 / rows, 0.0)) / rows
    z = norm.ppf(1 - level / 2)
    return Comparison(
        "mcnemar", "accuracy", rows, disagreements, identical, difference, difference - z * error,
        difference + z * error, level, mcnemar_p_value(truth, ours, theirs), _detectable(error, rows, level),
    )  # fmt: skip


def _detectable(error: float, rows: int, level: float) -> float:
    """A holdout where the models never disagree still has a resolution: one row's worth of error."""
    return float((norm.ppf(1 - level / 2) + norm.ppf(POWER)) * max(error, 1.0 / rows))


def _label_deltas(
    metric: str, truth: np.ndarray, ours: np.ndarray, theirs: np.ndarray, resamples: int, rng: np.random.Generator
) -> tuple[float, np.ndarray]:
    """Label metrics depend on a row only through (truth, champion's label, challenger's label): rows
    sharing that triple are interchangeable, so resampling rows is resampling those few cells."""
    classes = sorted(set(truth) | set(ours) | set(theirs))
    index = {label: i for i, label in enumerate(classes)}
    k = len(classes)
    t, a, b = (np.array([index[v] for v in values]) for values in (truth, ours, theirs))
    cells, counts = np.unique(t * k * k + a * k + b, return_counts=True)
    t_cell, a_cell, b_cell = cells // (k * k), (cells // k) % k, cells % k
    rows = len(truth)
    weights = np.vstack([counts, rng.multinomial(rows, counts / rows, size=resamples)]).astype(np.float64)
    # Sklearn's convention: two classes score the second as positive, more are macro-averaged over
    # the classes seen in the labels or that model's predictions.
    positive = 1 if k == 2 else None
    scores = [
        _label_metric(metric, weights, t_cell, p_cell, k, positive, sorted(set(t) | set(p)))
        for p_cell, p in ((a_cell, a), (b_cell, b))
    ]
    deltas = scores[1] - scores[0]
    return float(deltas[0]), deltas[1:]


def _label_metric(
    metric: str,
    weights: np.ndarray,
    truth: np.ndarray,
    predicted: np.ndarray,
    k: int,
    positive: int | None,
    labels: list[int],
) -> np.ndarray:
    onehot = np.eye(k)
    true_count = weights @ onehot[truth]
    predicted_count = weights @ onehot[predicted]
    hits = weights @ (onehot[truth] * onehot[predicted])
    if metric == "accuracy":
        return hits.sum(axis=1) / weights.sum(axis=1)
    if metric == "precision":
        per_class = _ratio(hits, predicted_count)
    elif metric == "recall":
        per_class = _ratio(hits, true_count)
    else:
        per_class = _ratio(2 * hits, predicted_count + true_count)
    return per_class[:, positive] if positive is not None else per_class[:, labels].mean(axis=1)


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """0 where the denominator is 0, as sklearn's zero_division=0."""
    return np.divide(numerator, denominator, out=np.zeros_like(numerator), where=denominator > 0)


def _auc_deltas(
    truth: np.ndarray, champion: Score, challenger: Score, resamples: int, rng: np.random.Generator
) -> tuple[float, np.ndarray]:
    if champion.classes != challenger.classes:
        raise ComparisonError(f"the models score different classes: {champion.classes} and {challenger.classes}")
    rows = len(truth)
    ones = np.ones((1, rows))
    estimate = _auc(ones, truth, challenger)[0] - _auc(ones, truth, champion)[0]
    chunk = max(1, _CHUNK_CELLS // rows)
    deltas = []
    for start in range(0, resamples, chunk):
        size = min(chunk, resamples - start)
        drawn = rng.integers(0, rows, size=(size, rows)) + (np.arange(size) * rows)[:, None]
        weights = np.bincount(drawn.ravel(), minlength=size * rows).reshape(size, rows).astype(np.float64)
        deltas.append(_auc(weights, truth, challenger) - _auc(weights, truth, champion))
    return float(estimate), np.concatenate(deltas)


def _auc(weights: np.ndarray, truth: np.ndarray, score: Score) -> np.ndarray:
    """Weighted ROC AUC per resample, as sklearn computes it: the second class's probability for two
    classes, else the mean of one-vs-rest AUCs over the model's classes."""
    classes, probabilities = score.classes, score.probabilities
    if probabilities is None:
        raise ComparisonError("ROC AUC needs class probabilities, and a model gave none")
    if len(classes) == 2:
        return _binary_auc(weights, truth == classes[1], probabilities[:, 1])
    return np.mean([_binary_auc(weights, truth == c, probabilities[:, i]) for i, c in enumerate(classes)], axis=0)


def _binary_auc(weights: np.ndarray, positive: np.ndarray, scores: np.ndarray) -> np.ndarray:
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


def _same_probabilities(champion: Score, challenger: Score) -> bool:
    if champion.probabilities is None or challenger.probabilities is None:
        return False
    return champion.classes == challenger.classes and np.array_equal(champion.probabilities, challenger.probabilities)


def _points(value: float) -> str:
    return f"{value * 100:+.1f}"
