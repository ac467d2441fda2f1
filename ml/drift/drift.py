"""Drift: how far a frame (recent live inputs, or a new dataset version) is from a model's profile.

Each feature is binned as the training data was (ml/drift/profile.py), with missing values as one
more bin, and gets two numbers:

- PSI, the population stability index: the size of the change (0.1 moderate, 0.2 large by the usual
  rule of thumb). It does not depend on the sample size, so it alone would cry wolf on small samples.
- a chi-square test of homogeneity of the two sets of counts: whether the change could be chance.
  It treats the reference as a sample too (a few hundred training rows are not the truth). Where a
  bin expects fewer than 5 rows (a rare category, a new one, a few missing values) the chi-square
  distribution does not hold, and the p-value is simulated instead (tables drawn with the same
  margins), so a new category seen in 10 rows out of 100 still counts.

A feature drifted when both say so: PSI at least `Thresholds.psi`, and p below `Thresholds.alpha`
divided by the number of scores compared (Bonferroni), so that a frame drawn from the training
distribution is called drifted in at most `alpha` of checks however many features the model has.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import chdtrc

from ml.contract import is_numeric
from ml.drift.profile import bin_counts

DRIFT = "drift"
NO_DRIFT = "no drift"
NOT_ENOUGH_DATA = "not enough data"
PREDICTIONS = "predictions"
# What people read for PREDICTIONS: the panel, the CLI and the notifications say the same.
PREDICTIONS_LABEL = "predicted class mix"
# Cochran's rule: the chi-square approximation needs an expected count of about 5 in every cell.
_MIN_EXPECTED = 5.0
# Simulated p-values: 200 tables show p to about two decimals; where the verdict depends on it,
# 20 / level tables, so the smallest p a simulation can give (1 / (tables + 1)) is far below the level.
_DISPLAY_SIMULATIONS = 200
_VERDICT_RESOLUTION = 20
# Added to every bin's count before PSI's logarithm, so an empty bin gives a large, finite score.
_SMOOTHING = 0.5


@dataclass(frozen=True)
class Thresholds:
    psi: float = 0.2
    alpha: float = 0.05
    min_rows: int = 200

    def __post_init__(self) -> None:
        if not self.psi > 0:
            raise ValueError(f"the drift psi threshold must be above 0, got {self.psi}")
        if not 0 < self.alpha < 1:
            raise ValueError(f"the drift alpha must be between 0 and 1, got {self.alpha}")
        if self.min_rows < 1:
            raise ValueError(f"the drift min_rows must be at least 1, got {self.min_rows}")


@dataclass(frozen=True)
class FeatureDrift:
    kind: str
    rows: int
    psi: float | None
    p_value: float | None
    missing_share: float | None
    reference_missing_share: float
    drifted: bool = False
    # "chi-square", or "simulated chi-square (N tables)" for sparse bins.
    test: str = ""
    # Values the training data did not name (new categories), most frequent first.
    unseen: list[str] = field(default_factory=list)


def describe(verdict: str, rows: int, drifted: dict[str, float | None]) -> str:
    """ "drift on tenure (PSI 0.41), contract (PSI 0.25) (1200 rows)", or "no drift (1200 rows)";
    `drifted` maps each drifted feature to its PSI, largest first."""
    counted = f"{rows} row{'' if rows == 1 else 's'}"
    if not drifted:
        return f"{verdict} ({counted})"
    named = ", ".join(
        f"{PREDICTIONS_LABEL if name == PREDICTIONS else name} (PSI {psi or 0:.2f})" for name, psi in drifted.items()
    )
    return f"drift on {named} ({counted})"


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
        scores = {**self.features, PREDICTIONS: self.predictions}
        return describe(self.verdict, self.rows, {name: scores[name].psi for name in self.drifted})

    def as_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "rows": self.rows,
            "drifted": self.drifted,
            "thresholds": asdict(self.thresholds),
            "features": {name: asdict(score) for name, score in self.features.items()},
            PREDICTIONS: asdict(self.predictions) if self.predictions is not None else None,
        }


def measure(
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
    binned = {name: _bin(frame.get(name, empty), reference) for name, reference in profile["features"].items()}
    predicted = None
    if predictions is not None and profile.get(PREDICTIONS):
        # A regression's predictions are binned as numbers (profile.py), a class mix by class.
        predicted = _bin(
            pd.Series(np.asarray(predictions, dtype=object)), {"kind": "categorical", **profile[PREDICTIONS]}
        )
    judge = _Judge(thresholds, tested=len(binned) + (predicted is not None), enough=rows >= thresholds.min_rows)
    scores = {name: judge.score(counts) for name, counts in binned.items()}
    predicted_score = judge.score(predicted) if predicted is not None else None
    drifted = any(s.drifted for s in scores.values()) or (predicted_score is not None and predicted_score.drifted)
    verdict = NOT_ENOUGH_DATA if not judge.enough else DRIFT if drifted else NO_DRIFT
    return DriftReport(verdict=verdict, rows=rows, features=scores, predictions=predicted_score, thresholds=thresholds)


@dataclass(frozen=True)
class _Binned:
    """A column's counts beside the reference's, over the same bins (missing values last)."""

    kind: str
    live: list[int]
    reference: list[int]
    reference_missing_share: float
    unseen: list[str] = field(default_factory=list)


class _Judge:
    def __init__(self, thresholds: Thresholds, tested: int, enough: bool) -> None:
        self.psi = thresholds.psi
        self.level = thresholds.alpha / max(tested, 1)
        self.enough = enough

    def score(self, binned: _Binned) -> FeatureDrift:
        rows = int(sum(binned.live))
        base = {"kind": binned.kind, "rows": rows, "reference_missing_share": binned.reference_missing_share}
        if rows == 0:
            return FeatureDrift(**base, psi=None, p_value=None, missing_share=None, unseen=binned.unseen)
        score = psi(binned.reference, binned.live)
        # A simulation precise enough for the verdict only where the verdict can depend on it.
        precise = self.enough and score >= self.psi
        simulations = max(_DISPLAY_SIMULATIONS, math.ceil(_VERDICT_RESOLUTION / self.level)) if precise else None
        p_value, test = chi_square_p_value(binned.reference, binned.live, simulations or _DISPLAY_SIMULATIONS)
        return FeatureDrift(
            **base,
            psi=score,
            p_value=p_value,
            missing_share=binned.live[-1] / rows,
            drifted=bool(precise and p_value < self.level),
            test=test,
            unseen=binned.unseen,
        )


def _bin(column: pd.Series, reference: dict[str, Any]) -> _Binned:
    if reference["kind"] == "numeric":
        return _bin_numbers(column, reference)
    return _bin_categories(column, reference)


def _bin_numbers(column: pd.Series, reference: dict[str, Any]) -> _Binned:
    if is_numeric(column):
        values = column.to_numpy(dtype="float64", na_value=np.nan)
    else:
        values = pd.to_numeric(column, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    histogram = reference["histogram"]
    return _Binned(
        kind="numeric",
        live=[*bin_counts(values, histogram["edges"]), int(np.isnan(values).sum())],
        reference=[*histogram["counts"], reference["missing"]],
        reference_missing_share=float(reference["missing_share"]),
    )


def _bin_categories(column: pd.Series, reference: dict[str, Any]) -> _Binned:
    """Categories the reference names, then the others together (rare or unseen), then missing."""
    found, counts, missing = _text_counts(column)
    seen = dict(zip(found.tolist(), counts.tolist(), strict=True))
    named = [seen.pop(name, 0) for name in reference["counts"]]
    return _Binned(
        kind="categorical",
        live=[*named, sum(seen.values()), missing],
        reference=[*reference["counts"].values(), reference.get("counts_other", 0), reference.get("missing", 0)],
        reference_missing_share=float(reference.get("missing_share", 0.0)),
        unseen=sorted(seen, key=lambda value: -seen[value])[:10],
    )


def _text_counts(column: pd.Series) -> tuple[np.ndarray, np.ndarray, int]:
    """(each present value as text, sorted; how many rows hold it; how many rows are missing).

    A text column is counted per distinct value, each converted once: one Python string per row
    is some 60 bytes a row, a million rows in a dataset being validated."""
    if isinstance(column.dtype, pd.StringDtype):
        codes, distinct = pd.factorize(column)
        present = codes[codes >= 0]
        texts = np.asarray(distinct, dtype=object).astype(str)
        found, inverse = np.unique(texts, return_inverse=True)
        per_text = np.bincount(inverse, weights=np.bincount(present, minlength=len(texts)), minlength=len(found))
        return found, per_text.astype(np.int64), len(codes) - len(present)
    values = column.to_numpy(dtype=object)
    present = values[~pd.isna(values)].astype(str)
    found, counts = np.unique(present, return_counts=True)
    return found, counts, len(values) - len(present)


def psi(expected: Sequence[int], actual: Sequence[int]) -> float:
    """Population stability index of two sets of counts over the same bins."""
    counts = np.asarray([expected, actual], dtype="float64")
    counts = counts[:, counts.sum(axis=0) > 0] + _SMOOTHING
    reference, live = counts / counts.sum(axis=1, keepdims=True)
    return float(np.sum((live - reference) * np.log(live / reference)))


def chi_square_p_value(
    expected: Sequence[int], actual: Sequence[int], simulations: int = _DISPLAY_SIMULATIONS
) -> tuple[float, str]:
    """(p-value, test) of a chi-square test that two sets of counts come from one distribution.

    With a bin expecting fewer than 5 rows, the p-value is the share of `simulations` tables with
    the same margins (drawn as if the two samples were one) whose statistic is at least as large.
    """
    table = np.asarray([expected, actual], dtype="int64")
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2 or (table.sum(axis=1) == 0).any():
        return 1.0, "chi-square"
    margins, live_rows = table.sum(axis=0), int(table[1].sum())
    live_expected = live_rows * margins / margins.sum()
    weights = 1 / live_expected + 1 / (margins - live_expected)
    statistic = float(np.sum((table[1] - live_expected) ** 2 * weights))
    if min(live_expected.min(), (margins - live_expected).min()) >= _MIN_EXPECTED:
        return float(chdtrc(table.shape[1] - 1, statistic)), "chi-square"
    drawn = np.random.default_rng(0).multivariate_hypergeometric(margins, live_rows, size=simulations)
    statistics = np.sum((drawn - live_expected) ** 2 * weights, axis=1)
    p_value = (1 + int(np.sum(statistics >= statistic * (1 - 1e-9)))) / (simulations + 1)
    return p_value, f"simulated chi-square ({simulations} tables)"
