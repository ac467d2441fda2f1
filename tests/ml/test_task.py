"""The task: what a model is scored on, which way each metric improves, how labels are read."""

import pandas as pd

from ml.task import CLASSIFICATION, Task


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
