"""The positive class of a binary task, and labels as one class whatever their type."""

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import f1_score, precision_score, recall_score, roc_auc_score

from ml.evaluate import evaluate
from ml.gate.policy import DEFAULT_POLICY, decide, paired_comparison
from ml.metrics import label_metrics, roc_auc
from ml.positive import PositiveClassError, label_changes, normalise, resolve
from ml.task import CLASSIFICATION


def test_one_two_types_of_the_same_label_are_one_class():
    values = [1, 1.0, "1", True, "1.0", np.int64(1), np.float64(1.0), "true"]
    assert list(normalise(values)) == ["1"] * len(values)
    assert list(normalise([0, 0.0, "0", False, "False"])) == ["0"] * 5
    assert list(normalise(["fraud", "ok", 2.5, "class-1"])) == ["fraud", "ok", "2.5", "class-1"]
    # Integers are read exactly, not through a float that would merge two long ids.
    assert list(normalise(["9007199254740993", "9007199254740992"])) == ["9007199254740993", "9007199254740992"]
    assert CLASSIFICATION.labels(pd.Series([0.0, 1.0, None])).tolist()[:2] == ["0", "1"]
    assert pd.isna(CLASSIFICATION.labels(pd.Series([0.0, 1.0, None]))[2])


def test_zero_one_and_boolean_labels_count_one_as_positive():
    assert resolve(pd.Series([0] * 3 + [1] * 97)).label == "1"
    assert resolve(pd.Series([True, False, False])).label == "1"
    assert "0/1" in resolve(pd.Series([0.0, 1.0])).reason


def test_other_labels_count_the_rarer_class_as_positive():
    found = resolve(pd.Series(["ok"] * 98 + ["fraud"] * 2))
    assert found.label == "fraud"
    assert "rarer" in found.reason
    assert "2.0%" in found.reason


def test_a_declared_positive_class_wins_and_is_normalised():
    assert resolve(pd.Series(["ok"] * 98 + ["fraud"] * 2), "ok").label == "ok"
    assert resolve(pd.Series([0, 1, 1]), "0.0").label == "0"
    assert "POSITIVE_CLASS" in resolve(pd.Series(["a", "b"]), "a").reason


def test_a_declared_positive_class_is_refused_for_three_classes_and_for_an_unknown_class():
    with pytest.raises(PositiveClassError, match="3 classes"):
        resolve(pd.Series(["a", "b", "c"]), "a")
    with pytest.raises(PositiveClassError, match="not a class"):
        resolve(pd.Series(["fraud", "ok"]), "fraude")
    assert resolve(pd.Series(["a", "b", "c"])) is None


def test_metrics_on_the_positive_class_are_sklearns_with_pos_label():
    rng = np.random.default_rng(3)
    truth = np.where(rng.random(500) < 0.1, "fraud", "ok").astype(object)
    predicted = np.where(rng.random(500) < 0.2, "fraud", "ok").astype(object)
    scores = rng.random((500, 2))
    ours = label_metrics(truth, predicted, "fraud")
    assert ours["precision"] == pytest.approx(precision_score(truth, predicted, pos_label="fraud"))
    assert ours["recall"] == pytest.approx(recall_score(truth, predicted, pos_label="fraud"))
    assert ours["f1"] == pytest.approx(f1_score(truth, predicted, pos_label="fraud"))
    assert roc_auc(truth, ["fraud", "ok"], scores, "fraud") == pytest.approx(
        roc_auc_score(truth == "fraud", scores[:, 0])
    )


def test_a_model_that_never_flags_the_rare_class_scores_f1_zero_on_it():
    truth = np.array(["ok"] * 98 + ["fraud"] * 2, dtype=object)
    never = np.array(["ok"] * 100, dtype=object)
    assert label_metrics(truth, never, "fraud")["f1"] == 0.0
    assert label_metrics(truth, never, "fraud")["accuracy"] == 0.98


def test_a_model_trained_on_0_1_scores_the_same_on_labels_written_0_0_1_0():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=400)})
    frame["y"] = (frame["x"] + rng.normal(scale=0.5, size=400) > 0).astype(int)
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression().fit(frame[["x"]], frame["y"])
    as_ints = evaluate(model, frame, "y", "1")
    as_floats = evaluate(model, frame.assign(y=frame["y"].astype(float)), "y", "1")
    assert as_floats.metrics == as_ints.metrics
    assert as_ints.metrics["accuracy"] > 0.7
    assert list(as_ints.classes) == ["0", "1"]


def test_the_gate_compares_two_models_on_the_positive_class():
    """The champion always says ok; the challenger finds half the fraud at the cost of a few false
    alarms. On the positive class that is a gain; on sklearn's default class (ok) a loss."""
    truth = np.array(["ok"] * 1900 + ["fraud"] * 100, dtype=object)
    champion = evaluate_like(truth, np.array(["ok"] * 2000, dtype=object))
    found = np.array(["ok"] * 1880 + ["fraud"] * 20 + ["fraud"] * 50 + ["ok"] * 50, dtype=object)
    challenger = evaluate_like(truth, found)
    policy = {**DEFAULT_POLICY, "primary_metric": "f1"}
    decision = decide(
        policy, challenger.metrics, champion.metrics, paired_comparison(policy, truth, champion, challenger)
    )
    assert decision.deploy, decision.reasons


def evaluate_like(truth: np.ndarray, predicted: np.ndarray):
    from ml.evaluate import Score

    return Score(label_metrics(truth, predicted, "fraud"), predicted, positive="fraud")


def test_label_changes_name_what_appeared_and_disappeared():
    assert label_changes(["0", "1"], ["0.0", "1.0"]) == {"appeared": [], "disappeared": []}
    assert label_changes(["a", "c"], ["a", "b"]) == {"appeared": ["c"], "disappeared": ["b"]}
