"""A team's own training pipeline and the estimators named by setting: resolved, built and checked
before anything is fitted, every refusal naming what is wrong."""

import hashlib
import sys

import pandas as pd
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from ml.estimators import TrainingError, resolve_estimator, train
from ml.features import prepare_features
from ml.kinds import apply, resolve
from ml.plugin import build, code_version, columns_by_kind
from tests.support.frames import sizes


def test_hist_gradient_boosting_is_a_name_of_the_built_in_table():
    assert resolve_estimator("hist_gradient_boosting") is HistGradientBoostingClassifier
    assert resolve_estimator("random_forest") is RandomForestClassifier


def test_a_scikit_learn_classifier_class_path_is_an_estimator():
    assert resolve_estimator("sklearn.ensemble.HistGradientBoostingClassifier") is HistGradientBoostingClassifier
    model = train(sizes(), "label", "sklearn.linear_model.LogisticRegression", {"C": 0.5}, seed=1)
    assert isinstance(model.steps[-1][1], LogisticRegression)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("svm", "unknown estimator 'svm'"),
        ("sklearn.ensemble.NoSuchForest", "sklearn.ensemble has no NoSuchForest"),
        ("sklearn.nowhere.Forest", "cannot import sklearn.nowhere"),
        ("sklearn.preprocessing.StandardScaler", "not a scikit-learn estimator that predicts"),
        ("os.path.join", "unknown estimator 'os.path.join'"),
    ],
)
def test_an_estimator_that_is_not_a_known_classifier_is_refused_by_name(name, expected):
    with pytest.raises(TrainingError, match=expected):
        resolve_estimator(name)


def test_the_columns_are_given_by_kind_as_the_feature_frame_holds_them():
    frame = pd.DataFrame(
        {
            "age": [30, 40] * 30,
            "plan": ["a", "b"] * 30,
            "paid": [True, False] * 30,
            "joined": ["2026-01-05", "2026-03-09"] * 30,
            "note": ["a long complaint", "all fine here"] * 30,
            "churned": ["yes", "no"] * 30,
        }
    )
    kinds = resolve(frame, "churned", declared={"note": "text"})
    features = prepare_features(apply(frame, kinds), "churned", kinds.left_out)

    assert columns_by_kind(features, kinds) == {
        "numeric": ["age"],
        "categorical": ["plan"],
        "boolean": ["paid"],
        "text": ["note"],
        "datetime": ["joined_year", "joined_month", "joined_dayofweek"],
    }


def team_pipeline(params, columns):
    return make_pipeline(StandardScaler(), LogisticRegression(**params))


def test_a_team_pipeline_is_called_with_the_params_and_columns_and_given_the_seed():
    seen = {}

    def factory(params, columns):
        seen.update(params=params, columns=columns)
        return make_pipeline(StandardScaler(), RandomForestClassifier(n_estimators=3))

    built = build(factory, "team:factory", {"max_depth": 2}, {"numeric": ["size"]}, seed=7, metric="accuracy")

    assert seen == {"params": {"max_depth": 2}, "columns": {"numeric": ["size"]}}
    assert built.get_params()["randomforestclassifier__random_state"] == 7


def test_a_callable_that_raises_is_named_with_its_error():
    def factory(params, columns):
        raise KeyError("no column called text")

    with pytest.raises(TrainingError, match="TRAINING_PIPELINE team:factory raised KeyError: 'no column called text'"):
        build(factory, "team:factory", {}, {}, seed=1, metric="accuracy")


@pytest.mark.parametrize("returned", [None, "a model", RandomForestClassifier])
def test_a_callable_that_returns_no_estimator_is_refused(returned):
    with pytest.raises(TrainingError, match=r"returned .* not a scikit-learn estimator"):
        build(lambda params, columns: returned, "team:factory", {}, {}, seed=1, metric="accuracy")


def test_a_fitted_estimator_is_refused():
    fitted = train(sizes(), "label", "random_forest", {"n_estimators": 2}, seed=1)
    with pytest.raises(TrainingError, match="returned a fitted estimator"):
        build(lambda params, columns: fitted, "team:factory", {}, {}, seed=1, metric="accuracy")


def test_a_classifier_without_probabilities_is_refused_when_the_metric_needs_scores():
    with pytest.raises(TrainingError, match=r"returned SVC, which has no predict_proba.*roc_auc needs"):
        build(lambda params, columns: SVC(), "team:factory", {}, {}, seed=1, metric="roc_auc")
    assert build(lambda params, columns: SVC(), "team:factory", {}, {}, seed=1, metric="accuracy") is not None


def test_a_team_pipeline_trains_on_the_feature_frame():
    estimator = build(team_pipeline, "team:p", {"C": 1.0}, {"numeric": ["size"]}, seed=1, metric="roc_auc")

    model = train(sizes().drop(columns=["colour"]), "label", "", {}, seed=1, pipeline=estimator)

    assert list(model.feature_names_in_) == ["size"]
    assert model.classes_.tolist() == ["big", "small"]


def test_a_team_pipeline_that_fails_to_fit_names_the_pipeline():
    estimator = build(team_pipeline, "team:p", {}, {}, seed=1, metric="accuracy")
    with pytest.raises(TrainingError, match="training TRAINING_PIPELINE team:p failed"):
        train(sizes(), "label", "", {}, seed=1, pipeline=estimator, name="TRAINING_PIPELINE team:p")


def test_the_code_version_is_the_installed_package_version_else_the_file_hash(tmp_path, monkeypatch):
    import sklearn

    assert code_version("sklearn.ensemble") == f"scikit-learn {sklearn.__version__}"
    module = tmp_path / "loose_team_module.py"
    module.write_text("def make(params, columns):\n    return None\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    digest = hashlib.sha256(module.read_bytes()).hexdigest()
    assert code_version("loose_team_module") == f"sha256:{digest}"
    sys.modules.pop("loose_team_module", None)
