"""The pure steps (validate, train, evaluate) on tiny frames; the split has its own tests."""

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score, roc_auc_score

from ml.contract import known_categories
from ml.drift.drift import Thresholds
from ml.drift.profile import build_profile
from ml.estimators import TrainingError, train
from ml.evaluate import evaluate
from ml.features import labels, prepare_features
from ml.keys import row_keys
from ml.split import holdout_mask, split_key
from ml.validate import validate


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


def test_training_is_reproducible_with_the_same_seed():
    data = frame()

    first = train(data, "label", "random_forest", {"n_estimators": 5}, seed=1)
    second = train(data, "label", "random_forest", {"n_estimators": 5}, seed=1)

    features = data.drop(columns=["label"])
    assert (first.predict_proba(features) == second.predict_proba(features)).all()
    assert known_categories(first) == {"colour": ["blue", "red"]}


def test_an_id_column_and_excluded_columns_are_never_model_inputs():
    data = frame(200).assign(row_id=range(200), extracted_at="2026-11-29")

    model = train(data, "label", "random_forest", {"n_estimators": 5}, seed=1, exclude=["row_id", "extracted_at"])

    assert list(model.feature_names_in_) == ["size", "colour"]
    assert len(evaluate(model, data, "label").predictions) == 200


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
    assert score.classes == ["big", "small"]
    assert score.probabilities.shape == (200, 2)


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
    side = "the holdout" if holdout_mask(data.iloc[[0]], 0.25, split_key(data, "label"))[0] else "training"

    problems = check(data, holdout_fraction=0.25).problems

    assert problems == [
        "1 class(es) of 'label' have too few rows to appear in both training and the holdout: "
        f"'rare' (1 row(s), all in {side})"
    ]


def test_the_one_sided_class_check_gives_the_same_answer_from_the_rows_keys_given():
    data = pd.concat([frame(60), frame(60).head(8).assign(label=None)], ignore_index=True)
    data.loc[0, "label"] = "rare"
    data.loc[1, "label"] = "rare"
    key = split_key(data, "label")

    computed = check(data.dropna(subset=["label"]), key=key).problems
    given = check(data.dropna(subset=["label"]), key=key, keys=row_keys(data.dropna(subset=["label"]), key)).problems
    with_gaps = check(data, key=key, keys=row_keys(data, key)).problems

    assert computed == given
    assert "'rare' (2 row(s)" in given[0]
    assert with_gaps == check(data, key=key).problems
    assert with_gaps[0] == "the target column 'label' has 8 missing labels"


def test_classes_split_on_both_sides_pass():
    assert check(frame(60), holdout_fraction=0.25, max_classes=2).ok


@pytest.mark.parametrize("estimator", ["random_forest", "logistic_regression", "decision_tree"])
@pytest.mark.parametrize("classes", [2, 3])
def test_evaluate_agrees_with_sklearn_on_every_metric(estimator, classes):
    data = frame(400)
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
    data = frame(300)
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


def test_validate_takes_its_limits_from_the_caller_not_from_settings(settings):
    settings.MAX_CLASSES, settings.HOLDOUT_FRACTION = 2, 0.99
    data = frame(60).assign(label=[f"c{i % 3}" for i in range(60)])

    with pytest.raises(TypeError, match="max_classes"):
        validate(data, "label", min_rows=3, max_missing_share=0.5)
    assert check(data, max_classes=3, holdout_fraction=0.25).ok


def test_prepared_text_is_plain_python_with_one_object_per_distinct_value():
    data = frame(3000).assign(colour=lambda d: d["colour"].where(d.index % 10 != 0, None).astype("str"))
    as_before = data.drop(columns="label").assign(
        colour=data["colour"].astype(object).where(data["colour"].notna(), None)
    )

    prepared = prepare_features(data, "label")

    pd.testing.assert_frame_equal(prepared, as_before)
    assert {type(v) for v in prepared["colour"]} == {str, type(None)}
    # One Python string a row would be ~60 bytes a row; here the rows share two.
    assert len({id(v) for v in prepared["colour"] if v is not None}) == 2


def test_the_four_label_metrics_share_one_count_of_the_rows(monkeypatch):
    from ml.metrics import LABEL_METRICS, label_metric, label_metrics

    truth = np.array(["a", "b", "c", "a", "b"] * 20, dtype=object)
    predicted = np.array(["a", "c", "c", "a", "b"] * 20, dtype=object)
    eye, made = np.eye, []
    monkeypatch.setattr(np, "eye", lambda *a, **k: made.append(a) or eye(*a, **k))

    metrics = label_metrics(truth, predicted)

    assert len(made) == 1
    t, p = (np.searchsorted(["a", "b", "c"], v) for v in (truth, predicted))
    each = {m: float(label_metric(m, np.ones((1, 100)), t, p, 3, None, [0, 1, 2])[0]) for m in LABEL_METRICS}
    assert metrics == each


def test_labels_are_the_text_sklearn_was_given_before():
    column = pd.Series(["big", None, "small", "big"], dtype="str")

    given = labels(column)

    expected = column.astype(str).to_numpy()
    assert given.dtype == expected.dtype == object
    assert [type(v) for v in given] == [type(v) for v in expected]
    assert given[[0, 2, 3]].tolist() == ["big", "small", "big"]
    assert given[1] != given[1]
    assert labels(pd.Series([1, 2, 1])).tolist() == ["1", "2", "1"]


def test_a_model_trained_on_features_prepared_beforehand_is_the_same_model():
    import pickle

    data = frame(400).assign(colour=lambda d: d["colour"].astype("str"))

    given = train(data, "label", "random_forest", {"n_estimators": 5}, seed=1, features=prepare_features(data, "label"))
    computed = train(data, "label", "random_forest", {"n_estimators": 5}, seed=1)

    assert pickle.dumps(given) == pickle.dumps(computed)
