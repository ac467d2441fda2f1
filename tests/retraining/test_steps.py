"""The pure steps (split, validate, train, evaluate) on tiny frames."""

import numpy as np
import pandas as pd
import pytest

from predictor.contract import known_categories
from predictor.drift import Thresholds
from predictor.profile import build_profile
from retraining.steps.evaluate import evaluate
from retraining.steps.split import holdout_mask, row_keys, split
from retraining.steps.train import TrainingError, train
from retraining.steps.validate import validate


def frame(rows: int = 60) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    size = rng.normal(10, 3, rows)
    return pd.DataFrame(
        {
            "size": size,
            "colour": rng.choice(["red", "blue"], rows),
            "label": np.where(size > 10, "big", "small"),
        }
    )


def check(data: pd.DataFrame, **options):
    defaults = {"min_rows": 3, "max_missing_share": 0.5, "max_classes": 50, "holdout_fraction": 0.25, "id_column": None}
    return validate(data, "label", **{**defaults, **options})


def test_a_row_keeps_its_side_of_the_split_when_the_dataset_grows():
    small = frame(40)
    grown = pd.concat([frame(60).tail(20), small]).reset_index(drop=True)

    before = dict(zip(row_keys(small), holdout_mask(small, 0.3), strict=True))
    after = dict(zip(row_keys(grown), holdout_mask(grown, 0.3), strict=True))

    assert all(after[key] == side for key, side in before.items())


def test_an_int_column_turning_float_keeps_rows_on_their_side():
    ints = pd.DataFrame({"n": [1, 2, 3, 4], "label": ["a", "b", "a", "b"]})
    floats = ints.assign(n=ints["n"].astype(float))

    assert row_keys(ints).tolist() == row_keys(floats).tolist()


def test_the_split_holds_out_about_the_configured_fraction():
    big = pd.DataFrame({"x": range(4000), "label": ["a", "b"] * 2000})

    training, holdout = split(big, 0.25)

    assert len(training) + len(holdout) == 4000
    assert 0.22 < len(holdout) / 4000 < 0.28


def test_valid_data_passes_with_no_problem():
    assert check(frame()).ok


def test_a_missing_target_column_is_a_problem():
    result = check(frame().drop(columns=["label"]))

    assert result.problems == ["the target column 'label' is missing (columns: size, colour)"]


def test_missing_labels_and_a_single_class_are_problems():
    data = frame().assign(label="big")
    data.loc[0, "label"] = None

    result = check(data)

    assert "the target column 'label' has 1 missing labels" in result.problems
    assert "the target column 'label' has 1 class(es); at least 2 are needed" in result.problems


def test_too_few_rows_is_a_problem():
    assert "60 rows, fewer than the minimum of 100" in check(frame(), min_rows=100).problems


def test_a_column_mostly_missing_is_a_problem():
    data = frame(10)
    data.loc[:6, "size"] = np.nan

    assert "column 'size' is 70% missing, more than the allowed 50%" in check(data).problems


def test_columns_are_checked_against_what_the_champion_expects():
    expected = [{"name": "size", "type": "double"}, {"name": "weight", "type": "double"}]
    data = frame().assign(size=["12.5", "n/a"] * 30, extra=1)

    result = check(data, expected_columns=expected)

    assert "feature column 'weight' that the champion uses is missing" in result.problems
    assert "column 'size' should be numeric (double) but holds text such as 'n/a'" in result.problems
    assert result.warnings == ["new columns the champion did not use: colour, extra"]


def test_a_text_column_turned_numeric_is_a_changed_type():
    expected = [{"name": "colour", "type": "string"}]

    result = check(frame().assign(colour=3), expected_columns=expected)

    assert result.problems == ["column 'colour' should be text (string) but now holds only numbers"]


def test_new_category_values_are_reported_not_rejected():
    result = check(frame().assign(colour="green"), known_categories={"colour": ["blue", "red"]})

    assert result.ok
    assert result.new_categories == {"colour": ["green"]}


def champion_profile(rows: int = 300) -> dict:
    return build_profile(frame(rows).drop(columns=["label"]), None)


def test_new_data_like_the_champions_training_data_records_no_drift():
    result = check(frame(200), reference=champion_profile())

    assert result.ok
    assert result.warnings == []
    assert result.drift["verdict"] == "no drift"
    assert set(result.drift["features"]) == {"size", "colour"}


def test_drifted_new_data_is_a_warning_naming_the_feature_and_its_score():
    shifted = frame(200).assign(size=lambda f: f["size"] + 6)

    result = check(shifted, reference=champion_profile())

    assert result.ok
    assert result.drift["verdict"] == "drift"
    assert result.drift["drifted"] == ["size"]
    assert len(result.warnings) == 1
    assert result.warnings[0].startswith("the new data drifted from the champion's training data: drift on size (PSI ")


def test_drifted_new_data_is_rejected_when_the_policy_says_so():
    shifted = frame(200).assign(size=lambda f: f["size"] + 6)

    result = check(shifted, reference=champion_profile(), reject_on_drift=True)

    assert not result.ok
    assert result.problems[0].startswith("the new data drifted from the champion's training data: drift on size")
    assert result.problems[0].endswith("and the policy rejects drifted data")


def test_new_data_too_small_to_judge_drift_says_so_without_a_warning():
    shifted = frame(40).assign(size=lambda f: f["size"] + 6)

    result = check(shifted, reference=champion_profile(), drift_thresholds=Thresholds(min_rows=50))

    assert result.ok
    assert result.warnings == []
    assert result.drift["verdict"] == "not enough data"


def test_without_a_champion_profile_no_drift_is_recorded():
    assert check(frame()).drift == {}


def test_training_is_reproducible_with_the_same_seed():
    data = frame()

    first = train(data, "label", "random_forest", {"n_estimators": 5}, seed=1)
    second = train(data, "label", "random_forest", {"n_estimators": 5}, seed=1)

    features = data.drop(columns=["label"])
    assert (first.predict_proba(features) == second.predict_proba(features)).all()
    assert known_categories(first) == {"colour": ["blue", "red"]}


def test_an_unknown_estimator_or_bad_hyperparameter_names_the_problem():
    with pytest.raises(TrainingError, match="unknown estimator 'svm'"):
        train(frame(), "label", "svm", {}, seed=1)
    with pytest.raises(TrainingError, match="bad hyperparameters for random_forest"):
        train(frame(), "label", "random_forest", {"trees": 3}, seed=1)


def test_evaluate_gives_binary_metrics_with_roc_auc():
    data = frame(200)
    model = train(data, "label", "logistic_regression", {}, seed=1)

    score = evaluate(model, data, "label")

    assert set(score.metrics) == {"accuracy", "precision", "recall", "f1", "roc_auc"}
    assert score.metrics["accuracy"] > 0.9
    assert len(score.predictions) == 200


def test_evaluate_uses_macro_averages_for_more_than_two_classes():
    data = frame(300)
    data["label"] = pd.cut(data["size"], [-np.inf, 8, 12, np.inf], labels=["s", "m", "l"]).astype(str)
    model = train(data, "label", "decision_tree", {"max_depth": 1}, seed=1)

    score = evaluate(model, data, "label")

    # A stump predicts two of three classes: the macro recall counts the third as 0.
    assert score.metrics["recall"] < score.metrics["accuracy"]
    assert "roc_auc" in score.metrics


def test_more_classes_than_max_classes_is_a_problem():
    data = frame(60).assign(label=[f"c{i % 12}" for i in range(60)])

    problems = check(data, max_classes=10).problems

    assert problems == [
        "the target column 'label' has 12 classes, more than MAX_CLASSES=10: "
        "is it the label, or an id or a measurement?"
    ]


def test_a_label_per_row_is_a_problem():
    problems = check(frame(60).assign(label=[f"penguin-{i}" for i in range(60)]), max_classes=50).problems

    assert "the target column 'label' has 60 classes, more than MAX_CLASSES=50" in problems[0]


def test_a_class_too_small_for_both_training_and_holdout_is_a_problem():
    data = frame(60)
    data.loc[0, "label"] = "rare"
    side = "the holdout" if holdout_mask(data.iloc[[0]], 0.25)[0] else "training"

    problems = check(data, holdout_fraction=0.25).problems

    assert problems == [
        "1 class(es) of 'label' have too few rows to appear in both training and the holdout: "
        f"'rare' (1 row(s), all in {side})"
    ]


def test_validate_takes_its_limits_from_the_caller_not_from_settings(settings):
    settings.MAX_CLASSES, settings.HOLDOUT_FRACTION = 2, 0.99
    data = frame(60).assign(label=[f"c{i % 3}" for i in range(60)])

    with pytest.raises(TypeError, match="max_classes"):
        validate(data, "label", min_rows=3, max_missing_share=0.5)
    assert check(data, max_classes=3, holdout_fraction=0.25).ok


def test_classes_split_on_both_sides_pass():
    assert check(frame(60), holdout_fraction=0.25, max_classes=2).ok


def test_row_keys_stay_the_ones_every_earlier_version_computed():
    """A row's key decides its side of the split for every champion ever trained: these are the
    keys the first (value by value) implementation gave, so no row may move."""
    frame = pd.DataFrame(
        {
            "size": [0.1, -0.0, 1e16, np.nan, 3.0, 123456.789],
            "count": [1, 2, 3, 4, 5, 6],
            "colour": ["red", None, "blue", "", "green", "red"],
            "flag": [True, False, True, True, False, False],
        }
    )
    frame["colour"] = frame["colour"].astype(object)
    keys = [1612844881646204377, 9965253143363016866, 17110304517307717269]
    keys += [7646956368529044246, 3095336834710300006, 6388734680102014490]

    assert row_keys(frame).tolist() == keys
    assert row_keys(frame.astype({"colour": "str"})).tolist() == keys
