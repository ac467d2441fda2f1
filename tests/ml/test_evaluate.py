"""Scoring a model on holdout rows, with sklearn's own conventions for every metric."""

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score, roc_auc_score

from ml.estimators import train
from ml.evaluate import evaluate
from tests.support.frames import sizes


def test_evaluate_gives_binary_metrics_with_roc_auc():
    data = sizes(200)
    model = train(data, "label", "logistic_regression", {}, seed=1)

    score = evaluate(model, data, "label")

    assert set(score.metrics) == {"accuracy", "precision", "recall", "f1", "roc_auc"}
    assert score.metrics["accuracy"] > 0.9
    assert len(score.predictions) == 200
    assert score.classes == ["big", "small"]
    assert score.probabilities.shape == (200, 2)


def test_evaluate_uses_macro_averages_for_more_than_two_classes():
    data = sizes(300)
    data["label"] = pd.cut(data["size"], [-np.inf, 8, 12, np.inf], labels=["s", "m", "l"]).astype(str)
    model = train(data, "label", "decision_tree", {"max_depth": 1}, seed=1)

    score = evaluate(model, data, "label")

    # A stump predicts two of three classes: the macro recall counts the third as 0.
    assert score.metrics["recall"] < score.metrics["accuracy"]
    assert "roc_auc" in score.metrics


@pytest.mark.parametrize("estimator", ["random_forest", "logistic_regression", "decision_tree"])
@pytest.mark.parametrize("classes", [2, 3])
def test_evaluate_agrees_with_sklearn_on_every_metric(estimator, classes):
    data = sizes(400)
    if classes == 3:
        data["label"] = pd.cut(data["size"], [-np.inf, 8, 12, np.inf], labels=["s", "m", "l"]).astype(str)
    model = train(data.head(100), "label", estimator, {}, seed=1)
    holdout = data.tail(300)

    score = evaluate(model, holdout, "label")

    truth = holdout["label"].astype(str).to_numpy()
    features = holdout.drop(columns=["label"])
    predicted = model.predict(features).astype(str)
    labels = sorted(set(truth) | set(predicted))
    options = {"average": "binary", "pos_label": labels[1]} if len(labels) == 2 else {"average": "macro"}
    assert (score.predictions == predicted).all()
    assert score.metrics["accuracy"] == pytest.approx(accuracy_score(truth, predicted), abs=1e-12)
    for name, metric in (("precision", precision_score), ("recall", recall_score), ("f1", f1_score)):
        assert score.metrics[name] == pytest.approx(metric(truth, predicted, zero_division=0, **options), abs=1e-12)
    proba = model.predict_proba(features)
    expected_auc = (
        roc_auc_score(truth == model.classes_[1], proba[:, 1])
        if classes == 2
        else roc_auc_score(truth, proba, multi_class="ovr", labels=list(model.classes_))
    )
    assert score.metrics["roc_auc"] == pytest.approx(expected_auc, abs=1e-12)


def test_evaluate_macro_averages_over_a_class_only_the_model_predicts():
    data = sizes(300)
    model = train(
        data.assign(label=np.where(data["size"] > 14, "huge", data["label"])), "label", "decision_tree", {}, 1
    )
    holdout = data.tail(100)

    score = evaluate(model, holdout, "label")

    predicted = model.predict(holdout.drop(columns=["label"])).astype(str)
    assert "huge" in set(predicted)
    assert score.metrics["recall"] == pytest.approx(
        recall_score(holdout["label"], predicted, average="macro", zero_division=0), abs=1e-12
    )
