"""What a model is trained to do, and what changes with it.

The metrics a model is scored on, which way each of them improves, how the label column is read
for training and scoring, and how much better one model's figure is than another's all depend on
the task. Callers ask the task instead of assuming it: classification and regression are two
`Task`s here, not a condition in each caller.

The task is declared (TASK) or inferred from the target column by `infer`, which says why.
"""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ml.contract import is_numeric
from ml.positive import normalise

# A whole-number target with at least this many distinct values may be a count or an amount
# (a price in thousands): it stays a classification, with a warning naming TASK=regression.
MANY_WHOLE_VALUES = 10


class TaskError(ValueError):
    """An unknown task name, or a target that cannot be learnt as the declared task."""


@dataclass(frozen=True)
class Task:
    name: str
    # What a model is scored on, in the order they are shown.
    metrics: tuple[str, ...]
    # The label column as training fits it and scoring compares it.
    labels: Callable[[pd.Series], np.ndarray]
    # Metrics where the lower figure is the better one (errors); every other metric improves upwards.
    lower_is_better: frozenset[str] = frozenset()
    # The metric a policy judges on unless it names another of this task's metrics.
    primary: str = ""

    def higher_is_better(self, metric: str) -> bool:
        return metric not in self.lower_is_better

    def gain(self, metric: str, new: float, old: float) -> float:
        """How much better `new` is than `old` on `metric`: positive when it improved, whichever way
        the metric points."""
        return new - old if self.higher_is_better(metric) else old - new


def _numbers(values: pd.Series) -> np.ndarray:
    return pd.to_numeric(values, errors="raise").to_numpy(dtype=np.float64)


# Labels are read as canonical text (ml.positive), so 1, 1.0, "1" and True are one class and the
# classes sort the same everywhere.
CLASSIFICATION = Task(
    name="classification",
    metrics=("accuracy", "precision", "recall", "f1", "roc_auc"),
    labels=normalise,
    primary="accuracy",
)
# Targets are read as float64: training fits them and scoring subtracts them as numbers.
REGRESSION = Task(
    name="regression",
    metrics=("rmse", "mae", "r2"),
    labels=_numbers,
    lower_is_better=frozenset({"rmse", "mae"}),
    primary="rmse",
)
TASKS = {task.name: task for task in (CLASSIFICATION, REGRESSION)}
# Every task's metrics, in the order they are shown: what a model's holdout scores may be.
ALL_METRICS = (*CLASSIFICATION.metrics, *REGRESSION.metrics)


def named(name: str) -> Task:
    """The task called `name` (TASK, a recorded task)."""
    try:
        return TASKS[name]
    except KeyError:
        raise TaskError(f"unknown task {name!r}: choose one of {', '.join(TASKS)}") from None


@dataclass(frozen=True)
class Inferred:
    """The task a target column is learnt as, why, and a warning when the guess may be wrong."""

    task: Task
    reason: str
    warning: str = ""


def infer(target: pd.Series, max_classes: int, declared: str = "") -> Inferred:
    """The task of a model of `target`: the `declared` one (TASK), else inferred from the values.

    A numeric target with non-integer values, or with more distinct values than `max_classes`
    (MAX_CLASSES), is a regression; anything else is a classification, with a warning when it is
    whole numbers with many distinct values (a count, an amount rounded to thousands)."""
    name = target.name
    if declared:
        task = named(declared)
        if task is REGRESSION and not is_numeric(target):
            raise TaskError(f"TASK=regression, but the target column {name!r} holds text, not numbers")
        return Inferred(task, f"declared by TASK={declared}")
    values = target.dropna()
    if not is_numeric(target):
        return Inferred(CLASSIFICATION, f"inferred: the target column {name!r} holds text or booleans (classes)")
    distinct = values.nunique()
    fractional = values[np.floor(values) != values]
    if len(fractional):
        example = fractional.iloc[0]
        return Inferred(
            REGRESSION, f"inferred: the target column {name!r} holds non-integer numbers (e.g. {example:g})"
        )
    if distinct > max_classes:
        return Inferred(
            REGRESSION,
            f"inferred: the target column {name!r} holds {distinct} distinct whole numbers, more than "
            f"MAX_CLASSES={max_classes}",
        )
    reason = f"inferred: the target column {name!r} holds {distinct} distinct whole numbers (classes)"
    if distinct >= MANY_WHOLE_VALUES:
        warning = (
            f"the target column {name!r} holds {distinct} distinct whole numbers, learnt as {distinct} classes: "
            "if it is a quantity (a count, an amount), set TASK=regression"
        )
        return Inferred(CLASSIFICATION, reason, warning)
    return Inferred(CLASSIFICATION, reason)
