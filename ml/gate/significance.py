"""Is the challenger's gain on this holdout more than noise? The paired comparison behind the gate.

Both models are scored on the same rows, so the comparison is paired: each row's two outputs stay
together, which measures the uncertainty of the *difference*, far smaller than that of either score
when the models mostly agree. For every metric the policy offers (ml.gate.resampling):
- accuracy, precision, recall, F1: the interval of the difference from a paired bootstrap, the
  p-value from a paired randomization test (exact even when the models disagree on a handful of
  rows, where a bootstrap p-value is too optimistic);
- ROC AUC: DeLong's standard error of the paired difference, its normal interval and p-value.
McNemar's exact test is kept as an option for accuracy. The policy's "bootstrap" test is this.

A regression's metrics are means of per-row losses (squared error for RMSE and R², absolute error
for MAE), so their comparison is a paired test on those losses (ml.gate.resampling.loss_difference):
the p-value of the mean loss difference (Student's t), the interval of the metric's difference from
its per-row influence. Both cost one pass over the rows, however large the holdout.

Everything is seeded: the same rows and predictions always give the same interval and p-value.
"""

from dataclasses import asdict, dataclass

import numpy as np
from scipy.stats import binomtest, norm
from scipy.stats import t as student

from ml.evaluate import Score
from ml.gate.resampling import ResamplingError, auc_difference, label_metric_differences, loss_difference
from ml.metrics import LABEL_METRICS, REGRESSION_METRICS
from ml.task import REGRESSION, TASKS

TESTS = ("bootstrap", "mcnemar")
RESAMPLES = 5000
SEED = 20261129
POWER = 0.8
# Resampled differences are sums of fractions: one that equals the observed one counts as extreme.
_TOLERANCE = 1e-12


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
    p_method: str
    detectable: float

    def as_dict(self) -> dict[str, object]:
        return asdict(self)

    def describe(self) -> list[str]:
        """The comparison in plain words, for the run's reasons and notifications."""
        confidence = f"{round((1 - self.level) * 100, 3):g}%"
        if self.metric in REGRESSION_METRICS:
            return [
                f"{self.metric} difference {self.difference:+.4g} on {self.rows} rows, {confidence} interval "
                f"[{self.low:+.4g}, {self.high:+.4g}], p-value {self.p_value:.4f} ({self.p_method}); "
                f"the models' answers differ on {self.disagreements} rows",
                f"this holdout of {self.rows} rows cannot detect a change in {self.metric} smaller than "
                f"{self.detectable:.4g}",
            ]
        return [
            f"{self.metric} difference {_points(self.difference)} points on {self.rows} rows, "
            f"{confidence} interval [{_points(self.low)}, {_points(self.high)}], "
            f"p-value {self.p_value:.4f} ({self.p_method}); "
            f"the models disagree on {self.disagreements} rows",
            f"this holdout of {self.rows} rows cannot detect a gain in {self.metric} below "
            f"{self.detectable * 100:.1f} points",
        ]


def paired_test(
    metric: str,
    truth: np.ndarray,
    champion: Score,
    challenger: Score,
    *,
    test: str = "bootstrap",
    level: float = 0.005,
    resamples: int = RESAMPLES,
    seed: int = SEED,
) -> Comparison:
    """Compare two models scored on the same rows (`truth` and both scores in the same row order).

    The interval is the two-sided (1 - level) interval of the difference; `detectable` is the
    smallest true gain this holdout would find significant 80% of the time, from the observed
    spread of the paired difference: (z_{1-level/2} + z_{0.8}) x its standard error.
    """
    if challenger.task == REGRESSION.name or champion.task == REGRESSION.name:
        return _losses(metric, truth, champion, challenger, test, level)
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
    if metric == "roc_auc":
        return _delong(truth, champion, challenger, test, level, disagreements, identical)
    if metric not in LABEL_METRICS:
        raise ComparisonError(f"unknown metric {metric!r}: choose one of {', '.join((*LABEL_METRICS, 'roc_auc'))}")
    rng = np.random.default_rng(seed)
    resampled = label_metric_differences(metric, truth, ours, theirs, resamples, rng, challenger.positive)
    difference = resampled.difference
    low, high = np.quantile(resampled.bootstrap, [level / 2, 1 - level / 2])
    extreme = int(np.sum(np.abs(resampled.null) >= abs(difference) - _TOLERANCE))
    p_value = 1.0 if identical else (extreme + 1) / (len(resampled.null) + 1)
    error = float(np.std(resampled.bootstrap, ddof=1))
    return Comparison(
        test, metric, rows, disagreements, identical, difference, float(low), float(high), level, p_value,
        "paired randomization test", _detectable(error, rows, level),
    )  # fmt: skip


def _losses(metric: str, truth: np.ndarray, champion: Score, challenger: Score, test: str, level: float) -> Comparison:
    """A regression's paired test: per-row losses, their mean difference's p-value and the metric's interval."""
    if champion.task != challenger.task:
        raise ComparisonError(f"a {champion.task} model cannot be compared with a {challenger.task} model")
    if metric not in TASKS[REGRESSION.name].metrics:
        raise ComparisonError(f"unknown metric {metric!r}: choose one of {', '.join(REGRESSION_METRICS)}")
    if test != "bootstrap":
        raise ComparisonError(f"{test} compares classes; a regression is compared on its per-row losses")
    truth = np.asarray(truth, dtype=np.float64)
    ours, theirs = np.asarray(champion.predictions, np.float64), np.asarray(challenger.predictions, np.float64)
    if not len(truth) == len(ours) == len(theirs):
        raise ComparisonError(f"rows differ: {len(truth)} targets, {len(ours)} and {len(theirs)} predictions")
    if len(truth) < 2:
        raise ComparisonError("fewer than two rows to compare the models on")
    if not 0 < level < 1:
        raise ComparisonError(f"the significance level must be strictly between 0 and 1, got {level}")
    rows = len(truth)
    disagreements = int(np.sum(ours != theirs))
    identical = disagreements == 0
    paired = loss_difference(metric, truth, ours, theirs)
    z = norm.ppf(1 - level / 2)
    if identical or paired.loss_error == 0:
        p_value = 1.0 if paired.loss_gain == 0 or identical else 0.0
    else:
        p_value = float(2 * student.sf(abs(paired.loss_gain) / paired.loss_error, rows - 1))
    loss = "absolute" if metric == "mae" else "squared"
    return Comparison(
        test, metric, rows, disagreements, identical, paired.difference, paired.difference - z * paired.error,
        paired.difference + z * paired.error, level, p_value, f"paired t-test on per-row {loss} errors",
        _detectable(paired.error, rows, level, floor=0.0),
    )  # fmt: skip


def _delong(
    truth: np.ndarray, champion: Score, challenger: Score, test: str, level: float, disagreements: int, identical: bool
) -> Comparison:
    try:
        difference, error = auc_difference(truth, champion, challenger)
    except ResamplingError as exc:
        raise ComparisonError(str(exc)) from None
    z = norm.ppf(1 - level / 2)
    p_value = 1.0 if identical or error == 0 else float(2 * norm.sf(abs(difference) / error))
    return Comparison(
        test, "roc_auc", len(truth), disagreements, identical, difference, difference - z * error,
        difference + z * error, level, p_value, "DeLong", _detectable(error, len(truth), level),
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
        difference + z * error, level, mcnemar_p_value(truth, ours, theirs), "McNemar",
        _detectable(error, rows, level),
    )  # fmt: skip


def _detectable(error: float, rows: int, level: float, floor: float | None = None) -> float:
    """A holdout where the models never disagree still has a resolution: one row's worth of error
    (for label metrics; `floor` otherwise)."""
    least = 1.0 / rows if floor is None else floor
    return float((norm.ppf(1 - level / 2) + norm.ppf(POWER)) * max(error, least))


def _same_probabilities(champion: Score, challenger: Score) -> bool:
    if champion.probabilities is None or challenger.probabilities is None:
        return False
    return champion.classes == challenger.classes and np.array_equal(champion.probabilities, challenger.probabilities)


def _points(value: float) -> str:
    return f"{value * 100:+.1f}"
