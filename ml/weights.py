"""Sample weights that give the training rows new since the champion's data a share of the fit,
and the fit argument that hands them to an estimator that takes them.

After a shift the rows that say what the world is now are few next to the rows from before it:
fitted on all of them with equal weight, a model learns mostly the old world, and where old and
new rows disagree (the same kind of customer, another outcome now) the old ones outvote the new.
Weighting the new rows up to a share of the total weight keeps every old row, so what did not
move is still learnt from all the data, while where the two disagree the new rows decide. It is
importance weighting towards today's rows, not a window: nothing is thrown away.

Weights shape the fit only: no metric reads them, every model is judged on holdout rows as they are.
"""

from typing import Any

import numpy as np
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import has_fit_parameter

SAMPLE_WEIGHT = "sample_weight"


def recent_weights(recent: np.ndarray, share: float) -> np.ndarray | None:
    """Per training row, a weight such that the rows `recent` marks carry `share` of the total weight,
    the weights averaging 1 (an estimator's per-row defaults keep their meaning); None when there is
    nothing to weight: share 0, no recent or no older rows, or recent rows that already carry at
    least that share (they are never weighted down)."""
    rows, new = len(recent), int(np.count_nonzero(recent))
    if share <= 0 or new == 0 or new == rows or new / rows >= share:
        return None
    return np.where(recent, share * rows / new, (1 - share) * rows / (rows - new))


def weight_share(recent: np.ndarray, weights: np.ndarray | None) -> float:
    """The share of the total weight the recent rows carry (their share of the rows when unweighted)."""
    if len(recent) == 0:
        return 0.0
    if weights is None:
        return float(np.count_nonzero(recent) / len(recent))
    return float(weights[recent].sum() / weights.sum())


def weight_argument(estimator: Any) -> str | None:
    """The keyword of `estimator.fit` that hands per-row weights to its final estimator: `sample_weight`,
    or `step__sample_weight` through (nested) pipelines; None when the final estimator's fit does not
    name `sample_weight` (a meta-estimator taking `**params` included: it may not pass them on)."""
    path, final = [], estimator
    while isinstance(final, Pipeline) and final.steps:
        name, final = final.steps[-1]
        path.append(name)
    if final is None or isinstance(final, str) or not hasattr(final, "fit"):
        return None
    try:
        accepts = has_fit_parameter(final, SAMPLE_WEIGHT)
    except (TypeError, ValueError):  # a fit whose signature cannot be read
        return None
    return "__".join([*path, SAMPLE_WEIGHT]) if accepts else None


def fit_arguments(estimator: Any, weights: np.ndarray | None) -> dict[str, np.ndarray]:
    """What `estimator.fit` is given besides the rows and labels: the weights, where its final estimator
    takes them; nothing otherwise (the caller says the run fell back: `weight_argument` is None)."""
    argument = weight_argument(estimator) if weights is not None else None
    return {argument: weights} if argument is not None and weights is not None else {}
