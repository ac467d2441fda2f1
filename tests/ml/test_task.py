"""The task: what a model is scored on, which way each metric improves, how labels are read."""

import numpy as np
import pandas as pd
import pytest

from ml.task import CLASSIFICATION, REGRESSION, Task, TaskError, infer, named


def test_classification_scores_every_metric_the_policy_and_the_panel_show():
    assert CLASSIFICATION.metrics == ("accuracy", "precision", "recall", "f1", "roc_auc")
    assert all(CLASSIFICATION.higher_is_better(metric) for metric in CLASSIFICATION.metrics)


def test_a_gain_is_positive_when_the_new_figure_is_better_whichever_way_the_metric_points():
    task = Task(
        "scored", metrics=("score", "error"), labels=CLASSIFICATION.labels, lower_is_better=frozenset({"error"})
    )

    assert task.gain("score", new=0.9, old=0.8) > 0
    assert task.gain("error", new=0.1, old=0.2) > 0
    assert CLASSIFICATION.gain("accuracy", new=0.8, old=0.9) == 0.8 - 0.9


def test_classification_reads_labels_as_text_so_1_and_the_string_1_are_one_class():
    assert CLASSIFICATION.labels(pd.Series([1, 2, 1])).tolist() == ["1", "2", "1"]
    assert CLASSIFICATION.labels(pd.Series(["1", "2"])).tolist() == ["1", "2"]


def test_regression_scores_errors_that_improve_downwards_and_r2_that_improves_upwards():
    assert REGRESSION.metrics == ("rmse", "mae", "r2")
    assert REGRESSION.primary == "rmse"
    assert REGRESSION.gain("rmse", new=9.0, old=10.0) == 1.0
    assert REGRESSION.gain("r2", new=0.8, old=0.7) > 0
    assert REGRESSION.labels(pd.Series(["1.5", 2])).tolist() == [1.5, 2.0]


def test_a_float_target_is_inferred_as_a_regression_and_says_why():
    inferred = infer(pd.Series([10.5, 12.0, 9.75, 11.0], name="price"), max_classes=50)

    assert inferred.task is REGRESSION
    assert "non-integer" in inferred.reason
    assert "'price'" in inferred.reason
    assert inferred.warning == ""


def test_whole_numbers_beyond_max_classes_are_a_regression():
    inferred = infer(pd.Series(np.arange(60), name="price"), max_classes=50)

    assert inferred.task is REGRESSION
    assert "60 distinct whole numbers, more than MAX_CLASSES=50" in inferred.reason


def test_price_in_thousands_stays_a_classification_with_a_warning_naming_task_regression():
    prices = pd.Series(np.random.default_rng(0).uniform(20_000, 400_000, 500), name="price") // 20_000

    inferred = infer(prices, max_classes=50)

    assert inferred.task is CLASSIFICATION
    assert "TASK=regression" in inferred.warning
    assert "19 distinct whole numbers" in inferred.warning


def test_few_classes_text_and_booleans_are_a_classification_without_a_warning():
    for target in (pd.Series([0, 1, 1, 2]), pd.Series(["a", "b"]), pd.Series([True, False])):
        inferred = infer(target.rename("label"), max_classes=50)
        assert inferred.task is CLASSIFICATION
        assert inferred.warning == ""


def test_a_declared_task_wins_and_a_regression_of_text_is_refused():
    assert infer(pd.Series([0, 1, 2], name="y"), 50, declared="regression").task is REGRESSION
    assert infer(pd.Series([0.5, 1.5], name="y"), 50, declared="classification").task is CLASSIFICATION
    with pytest.raises(TaskError, match="holds text"):
        infer(pd.Series(["a", "b"], name="y"), 50, declared="regression")
    with pytest.raises(TaskError, match="unknown task 'ranking'"):
        named("ranking")
