"""Training the challenger: reproducible, only feature columns as inputs, a clear error for a bad setup."""

import pytest

from ml.contract import known_categories
from ml.estimators import TrainingError, train
from ml.evaluate import evaluate
from ml.features import prepare_features
from tests.support.frames import sizes


def test_training_is_reproducible_with_the_same_seed():
    data = sizes()

    first = train(data, "label", "random_forest", {"n_estimators": 5}, seed=1)
    second = train(data, "label", "random_forest", {"n_estimators": 5}, seed=1)

    features = data.drop(columns=["label"])
    assert (first.predict_proba(features) == second.predict_proba(features)).all()
    assert known_categories(first) == {"colour": ["blue", "red"]}


def test_an_id_column_and_excluded_columns_are_never_model_inputs():
    data = sizes(200).assign(row_id=range(200), extracted_at="2026-11-29")

    model = train(data, "label", "random_forest", {"n_estimators": 5}, seed=1, exclude=["row_id", "extracted_at"])

    assert list(model.feature_names_in_) == ["size", "colour"]
    assert len(evaluate(model, data, "label").predictions) == 200


def test_an_unknown_estimator_or_bad_hyperparameter_names_the_problem():
    with pytest.raises(TrainingError, match="unknown estimator 'svm'"):
        train(sizes(), "label", "svm", {}, seed=1)
    with pytest.raises(TrainingError, match="bad hyperparameters for random_forest"):
        train(sizes(), "label", "random_forest", {"trees": 3}, seed=1)


def test_a_model_trained_on_features_prepared_beforehand_is_the_same_model():
    import pickle

    data = sizes(400).assign(colour=lambda d: d["colour"].astype("str"))

    given = train(data, "label", "random_forest", {"n_estimators": 5}, seed=1, features=prepare_features(data, "label"))
    computed = train(data, "label", "random_forest", {"n_estimators": 5}, seed=1)

    assert pickle.dumps(given) == pickle.dumps(computed)
