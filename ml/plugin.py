"""A team's own training pipeline.

A team's pipeline is a callable (imported by the app from `TRAINING_PIPELINE`: this core stays
free of Django) called with the training params and the feature columns by kind; it returns an
unfitted estimator that takes the feature frame as the product prepares it. Everything a team's
estimator is refused for is found here, before anything is fitted, and named: the product keeps
the split, so the team's code only ever sees the rows it trains on.
"""

import hashlib
import importlib.util
from collections.abc import Callable, Sequence
from importlib.metadata import PackageNotFoundError, packages_distributions, version
from typing import Any

import pandas as pd
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

from ml.contract import is_numeric
from ml.estimators import TrainingError
from ml.kinds import Kinds, part_names
from ml.metrics import LABEL_METRICS

# The kinds a team's pipeline is given its columns by; every key is always there.
KINDS = ("numeric", "categorical", "boolean", "datetime", "text")


def needs_scores(metric: str) -> bool:
    """Whether the policy's primary metric is computed from class probabilities (ROC AUC), not labels."""
    return metric not in LABEL_METRICS


def build(
    factory: Callable[..., Any],
    path: str,
    params: dict[str, Any],
    columns: dict[str, list[str]],
    seed: int,
    metric: str = "accuracy",
) -> Any:
    """The unfitted estimator a team's `factory` makes, checked; every `random_state` it leaves
    unset is given the run's seed, so that `reproduce` makes the same model again."""
    try:
        estimator = factory(dict(params), {kind: list(names) for kind, names in columns.items()})
    except Exception as exc:
        raise TrainingError(f"TRAINING_PIPELINE {path} raised {type(exc).__name__}: {exc}") from None
    if isinstance(estimator, type) or not all(hasattr(estimator, a) for a in ("fit", "predict", "get_params")):
        raise TrainingError(
            f"TRAINING_PIPELINE {path} returned {_describe(estimator)}, not a scikit-learn estimator "
            "(an unfitted object with fit, predict and get_params)"
        )
    if _fitted(estimator):
        raise TrainingError(
            f"TRAINING_PIPELINE {path} returned a fitted estimator: return an unfitted one, "
            "which the product fits on the training rows"
        )
    if needs_scores(metric) and not hasattr(estimator, "predict_proba"):
        raise TrainingError(
            f"TRAINING_PIPELINE {path} returned {_final_name(estimator)}, which has no predict_proba, and the "
            f"policy's primary metric {metric} needs class probabilities: return a classifier that has it, "
            "or choose a metric of labels"
        )
    try:
        unset = {
            name: seed
            for name, value in estimator.get_params(deep=True).items()
            if (name == "random_state" or name.endswith("__random_state")) and value is None
        }
        estimator.set_params(**unset)
    except Exception as exc:
        raise TrainingError(f"TRAINING_PIPELINE {path}: could not give its estimator the seed: {exc}") from None
    return estimator


def columns_by_kind(features: pd.DataFrame, kinds: Kinds | None) -> dict[str, list[str]]:
    """The feature frame's columns by kind (`KINDS`); a datetime column is the parts it is read as."""
    parts = {}
    if kinds is not None:
        for name, timed in kinds.dates.items():
            parts |= dict.fromkeys(part_names(name, timed), "datetime")
    found: dict[str, list[str]] = {kind: [] for kind in KINDS}
    for name in map(str, features.columns):
        kind = parts.get(name) or (kinds.kinds.get(name) if kinds is not None else None)
        if kind not in found:
            kind = "numeric" if is_numeric(features[name]) else "categorical"
        found[kind].append(name)
    return found


def code_version(module_name: str) -> str:
    """The team's code version: its installed package's name and version, else the module file's
    sha256, else "unknown"."""
    top = module_name.split(".")[0]
    for distribution in packages_distributions().get(top, []):
        try:
            return f"{distribution} {version(distribution)}"
        except PackageNotFoundError:
            continue
    try:
        spec = importlib.util.find_spec(module_name)
    except (ImportError, ValueError):
        spec = None
    origin = getattr(spec, "origin", None)
    if not origin or not origin.endswith(".py"):
        return "unknown"
    with open(origin, "rb") as source:
        return f"sha256:{hashlib.sha256(source.read()).hexdigest()}"


def _fitted(estimator: Any) -> bool:
    try:
        check_is_fitted(estimator)
    except NotFittedError:
        return False
    except (TypeError, AttributeError, ValueError):
        return False
    return True


def _final_name(estimator: Any) -> str:
    final = estimator.steps[-1][1] if isinstance(estimator, Pipeline) and estimator.steps else estimator
    return type(final).__name__


def _describe(value: Any) -> str:
    if value is None:
        return "None"
    if isinstance(value, type):
        return f"the class {value.__name__} (call it)"
    if isinstance(value, str | bytes | int | float | Sequence):
        return f"{type(value).__name__} {str(value)[:40]!r}"
    return f"a {type(value).__name__}"
