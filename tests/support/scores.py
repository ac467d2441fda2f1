"""Holdout outputs given by the test: the gate is under test, not a model."""

import numpy as np
import pandas as pd

from ml.evaluate import Score, evaluate


class GivenOutputs:
    """A fitted classifier whose outputs on the holdout are given: the gate is under test, not a model."""

    def __init__(self, classes: list[str], probabilities: np.ndarray) -> None:
        self.classes_ = np.array(classes)
        self.probabilities = probabilities

    def predict(self, features: object) -> np.ndarray:
        return self.classes_[self.probabilities.argmax(axis=1)]

    def predict_proba(self, features: object) -> np.ndarray:
        return self.probabilities


def holdout(rows: int, classes: int, seed: int = 0) -> tuple[list[str], np.ndarray]:
    names = [f"class-{i}" for i in range(classes)]
    return names, np.random.default_rng(seed).integers(0, classes, rows)


def outputs(labels: np.ndarray, classes: int, strength: float, seed: int) -> np.ndarray:
    """Class probabilities that favour the true class more the stronger the model."""
    noise = np.random.default_rng(seed).normal(size=(len(labels), classes))
    logits = noise + strength * np.eye(classes)[labels]
    exp = np.exp(logits - logits.max(axis=1, keepdims=True))
    return exp / exp.sum(axis=1, keepdims=True)


def scored(names: list[str], labels: np.ndarray, probabilities: np.ndarray) -> tuple[np.ndarray, Score]:
    truth = np.array(names)[labels]
    frame = pd.DataFrame({"x": np.zeros(len(labels)), "label": truth})
    return truth, evaluate(GivenOutputs(names, probabilities), frame, "label")
