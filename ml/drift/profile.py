"""The reference profile of a model's training data, stored with the model (predictor/serving/registry.py).

Drift is measured against it (ml/drift/drift.py): live inputs or a new dataset version are binned
exactly as the training data was, so the profile keeps counts, not only shares, and fixed bin edges.

Shape (JSON, `PROFILE_VERSION` 1):

    {"profile_version": 1, "rows": 257,
     "features": {
        "body_mass_g": {"kind": "numeric", "rows": 257, "missing": 2, "missing_share": 0.0078,
                        "mean": 4201.7, "std": 801.9, "quantiles": {"0.0": 2700.0, ..., "1.0": 6300.0},
                        "histogram": {"edges": [3300.0, ...], "counts": [26, ...]}},
        "island": {"kind": "categorical", "rows": 257, "missing": 0, "missing_share": 0.0,
                   "counts": {"Biscoe": 125, "Dream": 93, "Torgersen": 39}, "counts_other": 0}},
     "predictions": {"rows": 87, "counts": {"Adelie": 38, ...}} or null}

A regression's predictions are numbers: they are profiled like a numeric feature (quantiles and
a histogram at the deciles, "kind": "numeric"), so drift of the predictions is drift of their
distribution, not of a class mix.

A histogram's edges are inner edges: bin i holds edges[i-1] < x <= edges[i], and the first and last
bins are open, so every live value lands in a bin.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from ml.contract import is_numeric

PROFILE_VERSION = 1
# Edges at the training deciles: every bin starts with a tenth of the rows, which keeps PSI stable.
BINS = 10
QUANTILES = (0.0, 0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 1.0)
# Categories kept by name; rarer ones (and, live, unseen ones) are counted together as "other".
MAX_CATEGORIES = 20
OTHER = "(other)"


class ProfileError(ValueError):
    """The frame cannot be profiled."""


def build_profile(features: pd.DataFrame, holdout_predictions: Sequence[Any] | np.ndarray | None) -> dict[str, Any]:
    """The profile of the training features and of the model's predictions on the holdout."""
    if len(features) == 0:
        raise ProfileError("cannot profile a frame with no rows")
    return {
        "profile_version": PROFILE_VERSION,
        "rows": len(features),
        "features": {str(name): profile_column(features[name]) for name in features.columns},
        "predictions": _predictions(holdout_predictions),
    }


def profile_column(column: pd.Series) -> dict[str, Any]:
    missing = int(column.isna().sum())
    base = {"rows": len(column), "missing": missing, "missing_share": missing / len(column) if len(column) else 0.0}
    if is_numeric(column):
        return {"kind": "numeric", **base, **_numeric(column.dropna().astype("float64").to_numpy())}
    return {"kind": "categorical", **base, **_categorical(column.dropna())}


def _numeric(values: np.ndarray) -> dict[str, Any]:
    if len(values) == 0:
        return {"mean": None, "std": None, "quantiles": {}, "histogram": {"edges": [], "counts": [0]}}
    # One partition of the values for the bin edges and the quantiles (each value as if asked alone).
    both = np.quantile(values, np.concatenate([np.arange(1, BINS) / BINS, QUANTILES]))
    edges = np.unique(both[: BINS - 1]).tolist()
    return {
        "mean": float(values.mean()),
        "std": float(values.std()),
        "quantiles": {str(q): float(v) for q, v in zip(QUANTILES, both[BINS - 1 :], strict=True)},
        "histogram": {"edges": edges, "counts": bin_counts(values, edges)},
    }


def bin_counts(values: np.ndarray, edges: Sequence[float]) -> list[int]:
    """How many of the (non-missing) values fall in each bin of a profile's histogram."""
    values = np.asarray(values, dtype="float64")
    values = values[~np.isnan(values)]
    return np.bincount(np.searchsorted(edges, values, side="left"), minlength=len(edges) + 1).tolist()


def _categorical(values: pd.Series) -> dict[str, Any]:
    counts = values.astype(str).value_counts()
    kept = counts.head(MAX_CATEGORIES)
    other = int(counts.iloc[MAX_CATEGORIES:].sum())
    return {"counts": {str(k): int(v) for k, v in kept.items()}, "counts_other": other}


def _predictions(predictions: Sequence[Any] | np.ndarray | None) -> dict[str, Any] | None:
    if predictions is None or len(predictions) == 0:
        return None
    if np.asarray(predictions).dtype.kind == "f":  # a regression's numbers (classes are text)
        return profile_column(pd.Series(np.asarray(predictions, dtype=np.float64)))
    counts = pd.Series(np.asarray(predictions)).astype(str).value_counts()
    return {"rows": int(counts.sum()), "counts": {str(k): int(v) for k, v in counts.items()}}


def summarise(profile: dict[str, Any]) -> dict[str, Any]:
    """A profile in brief, small enough to keep with every run: per column its kind, rows and
    missing share and, for a number, its mean, spread and median; for a category, the share of all
    rows each named category holds (the rarer ones as one `OTHER` share, as drift bins them). The
    predictions likewise. Bin edges and counts stay in the model's own profile."""
    predictions = profile.get("predictions")
    if predictions is not None and "kind" not in predictions:  # a class mix: counts only
        predictions = {"kind": "categorical", "rows": predictions["rows"], "counts": predictions["counts"]}
    return {
        "rows": profile["rows"],
        "features": {name: _brief(column) for name, column in profile["features"].items()},
        "predictions": _brief(predictions, missing=False) if predictions else None,
    }


def _brief(column: dict[str, Any], *, missing: bool = True) -> dict[str, Any]:
    rows = column["rows"]
    brief: dict[str, Any] = {"kind": column["kind"], "rows": rows}
    if missing:
        brief["missing_share"] = column["missing_share"]
    if column["kind"] == "numeric":
        median = (column.get("quantiles") or {}).get("0.5")
        return {**brief, "mean": column.get("mean"), "std": column.get("std"), "median": median}
    counts = {**column["counts"], **({OTHER: column["counts_other"]} if column.get("counts_other") else {})}
    return {**brief, "shares": {name: count / rows if rows else 0.0 for name, count in counts.items()}}
