"""Drift: how far a frame (recent live inputs, or a new dataset version) is from a model's profile.

Each feature is binned as the training data was (predictor/profile.py), with missing values as one
more bin, and gets two numbers:

- PSI, the population stability index: the size of the change (0.1 moderate, 0.2 large by the usual
  rule of thumb). It does not depend on the sample size, so it alone would cry wolf on small samples.
- a chi-square test of homogeneity of the two sets of counts: whether the change could be chance.
  It treats the reference as a sample too (a few hundred training rows are not the truth), and pools
  bins too small for the chi-square approximation to hold.

A feature drifted when both say so: PSI at least `Thresholds.psi`, and p below `Thresholds.alpha`
divided by the number of scores compared (Bonferroni), so that a frame drawn from the training
distribution is called drifted in at most `alpha` of checks however many features the model has.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import chdtrc

from predictor.contract import is_numeric
from predictor.profile import bin_counts

DRIFT = "drift"
NO_DRIFT = "no drift"
NOT_ENOUGH_DATA = "not enough data"
PREDICTIONS = "predictions"
# Cochran's rule: the chi-square approximation needs an expected count of about 5 in every cell.
_MIN_EXPECTED = 5.0
# Added to every bin's count before PSI's logarithm, so an empty bin gives a large, finite score.
_SMOOTHING = 0.5


@dataclass(frozen=True)
class Thresholds:
    psi: float = 0.2
    alpha: float = 0.05
    min_rows: int = 100

    def __post_init__(self) -> None:
        if not self.psi > 0:
            raise ValueError(f"the drift psi threshold must be above 0, got {self.psi}")
        if not 0 < self.alpha < 1:
            raise ValueError(f"the drift alpha must be between 0 and 1, got {self.alpha}")
        if self.min_rows < 1:
            raise ValueError(f"the drift min_rows must be at least 1, got {self.min_rows}")


def thresholds() -> Thresholds:
    """The configured thresholds (DRIFT_PSI_THRESHOLD, DRIFT_ALPHA, DRIFT_MIN_ROWS)."""
    from django.conf import settings

    return Thresholds(psi=settings.DRIFT_PSI_THRESHOLD, alpha=settings.DRIFT_ALPHA, min_rows=settings.DRIFT_MIN_ROWS)


@dataclass(frozen=True)
class FeatureDrift:
    kind: str
    rows: int
    psi: float | None
    p_value: float | None
    missing_share: float | None
    reference_missing_share: float
    drifted: bool = False
    # Values the training data did not name (new categories), most frequent first.
    unseen: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class DriftReport:
    verdict: str
    rows: int
    features: dict[str, FeatureDrift]
    predictions: FeatureDrift | None
    thresholds: Thresholds

    @property
    def drifted(self) -> list[str]:
        """The drifted features, largest PSI first ("predictions" last, when they drifted)."""
        names = sorted((n for n, f in self.features.items() if f.drifted), key=lambda n: -(self.features[n].psi or 0))
        return names + ([PREDICTIONS] if self.predictions is not None and self.predictions.drifted else [])

    def summary(self) -> str:
        """One line for a run's warnings or a notification."""
        if self.verdict != DRIFT:
            return f"{self.verdict} ({self.rows} rows)"
        scores = {**self.features, PREDICTIONS: self.predictions}
        named = ", ".join(f"{name} (PSI {scores[name].psi:.2f})" for name in self.drifted)
        return f"drift on {named} ({self.rows} rows)"

    def as_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "rows": self.rows,
            "drifted": self.drifted,
            "thresholds": asdict(self.thresholds),
            "features": {name: asdict(score) for name, score in self.features.items()},
            PREDICTIONS: asdict(self.predictions) if self.predictions is not None else None,
        }


def compare(
    frame: pd.DataFrame,
    profile: dict[str, Any],
    *,
    predictions: Sequence[Any] | np.ndarray | None = None,
    thresholds: Thresholds | None = None,
) -> DriftReport:
    """Score every profiled feature of `frame` (other columns are ignored) and give the verdict.

    A profiled column absent from the frame counts as entirely missing; a value that is not a
    number in a numeric feature counts as missing.
    """
    thresholds = thresholds or Thresholds()
    rows = len(frame)
    empty = pd.Series([None] * rows, index=frame.index, dtype=object)
    scores = {name: _score(frame.get(name, empty), ref) for name, ref in profile["features"].items()}
    reference_predictions = profile.get(PREDICTIONS)
    predicted = None
    if predictions is not None and reference_predictions:
        predicted = _categorical(pd.Series(np.asarray(predictions, dtype=object)), {**reference_predictions})
    enough = rows >= thresholds.min_rows
    tested = [*scores.values(), *([predicted] if predicted is not None else [])]
    level = thresholds.alpha / max(len(tested), 1)
    scores = {name: _judge(score, thresholds.psi, level, enough) for name, score in scores.items()}
    predicted = _judge(predicted, thresholds.psi, level, enough) if predicted is not None else None
    drifted = any(s.drifted for s in scores.values()) or (predicted is not None and predicted.drifted)
    verdict = NOT_ENOUGH_DATA if not enough else DRIFT if drifted else NO_DRIFT
    return DriftReport(verdict=verdict, rows=rows, features=scores, predictions=predicted, thresholds=thresholds)


def _judge(score: FeatureDrift, psi_threshold: float, level: float, enough: bool) -> FeatureDrift:
    drifted = enough and score.psi is not None and score.psi >= psi_threshold and score.p_value < level
    return FeatureDrift(**{**asdict(score), "drifted": bool(drifted)})


def _score(column: pd.Series, reference: dict[str, Any]) -> FeatureDrift:
    if reference["kind"] == "numeric":
        return _numeric(column, reference)
    return _categorical(column, reference)


def _numeric(column: pd.Series, reference: dict[str, Any]) -> FeatureDrift:
    if is_numeric(column):
        values = column.to_numpy(dtype="float64", na_value=np.nan)
    else:
        values = pd.to_numeric(column, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    missing = int(np.isnan(values).sum())
    histogram = reference["histogram"]
    live = [*bin_counts(values, histogram["edges"]), missing]
    expected = [*histogram["counts"], reference["missing"]]
    return _scored("numeric", live, expected, reference, ordered=len(histogram["counts"]))


def _categorical(column: pd.Series, reference: dict[str, Any]) -> FeatureDrift:
    values = column.to_numpy(dtype=object)
    present = values[~pd.isna(values)].astype(str)
    found, counts = np.unique(present, return_counts=True)
    seen = dict(zip(found.tolist(), counts.tolist(), strict=True))
    named = [seen.pop(name, 0) for name in reference["counts"]]
    unseen = sorted(seen, key=lambda value: -seen[value])[:10]
    live = [*named, sum(seen.values()), len(values) - len(present)]
    expected = [*reference["counts"].values(), reference.get("counts_other", 0), reference.get("missing", 0)]
    return _scored("categorical", live, expected, reference, unseen)


def _scored(
    kind: str,
    live: list[int],
    expected: list[int],
    reference: dict[str, Any],
    unseen: list[str] | None = None,
    ordered: int = 0,
) -> FeatureDrift:
    rows = int(sum(live))
    if rows == 0:
        p_value = score = share = None
    else:
        score, p_value, share = psi(expected, live), chi_square_p_value(expected, live, ordered), live[-1] / rows
    return FeatureDrift(
        kind=kind,
        rows=rows,
        psi=score,
        p_value=p_value,
        missing_share=share,
        reference_missing_share=float(reference.get("missing_share", 0.0)),
        unseen=unseen or [],
    )


def psi(expected: Sequence[int], actual: Sequence[int]) -> float:
    """Population stability index of two sets of counts over the same bins."""
    counts = np.asarray([expected, actual], dtype="float64")
    counts = counts[:, counts.sum(axis=0) > 0] + _SMOOTHING
    reference, live = counts / counts.sum(axis=1, keepdims=True)
    return float(np.sum((live - reference) * np.log(live / reference)))


def chi_square_p_value(expected: Sequence[int], actual: Sequence[int], ordered: int = 0) -> float:
    """Chi-square test that two sets of counts over the same bins come from one distribution.

    The first `ordered` bins are a histogram's, in order: small ones are joined to their
    neighbours; the others (categories, missing values) are pooled smallest first.
    """
    table = np.asarray([expected, actual], dtype="float64")
    if ordered:
        table = np.column_stack([_join_neighbours(table[:, :ordered]), table[:, ordered:]])
    table = _pool_small_bins(table[:, table.sum(axis=0) > 0])
    if table.shape[1] < 2 or (table.sum(axis=1) == 0).any():
        return 1.0
    totals = table.sum(axis=1, keepdims=True)
    expected_counts = totals * table.sum(axis=0) / table.sum()
    statistic = float(np.sum((table - expected_counts) ** 2 / expected_counts))
    return float(chdtrc(table.shape[1] - 1, statistic))


def _pool_small_bins(table: np.ndarray) -> np.ndarray:
    """Merge the bins whose expected count (in the smaller sample) is below Cochran's 5 into one."""
    expected = _expected_in_smaller(table)
    order = np.argsort(expected)
    taken, pooled = 0, 0.0
    # Take the smallest bins while they are too small, then more until the pool itself is large enough.
    while taken < len(order) and (expected[order[taken]] < _MIN_EXPECTED or 0 < pooled < _MIN_EXPECTED):
        pooled += expected[order[taken]]
        taken += 1
    if taken == 0:
        return table
    merged = table[:, order[:taken]].sum(axis=1, keepdims=True)
    return np.column_stack([table[:, np.sort(order[taken:])], merged])


def _join_neighbours(table: np.ndarray) -> np.ndarray:
    """Join adjacent bins of a histogram until each expects 5: a small sample keeps its shape."""
    expected = _expected_in_smaller(table)
    groups: list[list[int]] = [[]]
    for index in range(len(expected)):
        groups[-1].append(index)
        if expected[groups[-1]].sum() >= _MIN_EXPECTED:
            groups.append([])
    if not groups[-1]:
        groups.pop()
    elif len(groups) > 1:
        groups[-2].extend(groups.pop())
    return np.column_stack([table[:, group].sum(axis=1) for group in groups])


def _expected_in_smaller(table: np.ndarray) -> np.ndarray:
    return table.sum(axis=1).min() * table.sum(axis=0) / max(table.sum(), 1.0)
