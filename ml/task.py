"""What a model is trained to do, and what changes with it.

Only classification exists today, yet the metrics a model is scored on, which way each of them
improves, how the label column is read for training and scoring, and how much better one model's
figure is than another's all depend on the task. Callers ask the task instead of assuming it, so a
second task (regression) is one more `Task` here, not a condition in each of them.
"""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ml.positive import normalise


@dataclass(frozen=True)
class Task:
    name: str
    # What a model is scored on, in the order they are shown.
    metrics: tuple[str, ...]
    # The label column as training fits it and scoring compares it.
    labels: Callable[[pd.Series], np.ndarray]
    # Metrics where the lower figure is the better one (errors); every other metric improves upwards.
    lower_is_better: frozenset[str] = frozenset()

    def higher_is_better(self, metric: str) -> bool:
        return metric not in self.lower_is_better

    def gain(self, metric: str, new: float, old: float) -> float:
        """How much better `new` is than `old` on `metric`: positive when it improved, whichever way
        the metric points."""
        return new - old if self.higher_is_better(metric) else old - new


# Labels are read as canonical text (ml.positive), so 1, 1.0, "1" and True are one class and the
# classes sort the same everywhere.
CLASSIFICATION = Task(
    name="classification",
    metrics=("accuracy", "precision", "recall", "f1", "roc_auc"),
    labels=normalise,
)
