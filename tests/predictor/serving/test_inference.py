"""Compiled inference gives exactly the pipeline's own probabilities, or is not used at all."""

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MinMaxScaler, OneHotEncoder

from demo.batches import demo_frame
from ml.contract import known_categories
from ml.estimators import ESTIMATORS, REGRESSORS, train
from ml.features import prepare_features
from ml.task import REGRESSION
from predictor.serving import inference
from predictor.serving.holder import compile_checked


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return demo_frame(2, "penguins")


def awkward(data: pd.DataFrame, target: str, unseen: dict[str, str], n: int = 300) -> pd.DataFrame:
    """Sampled rows with gaps punched in every column and, in a tenth of the rows each, the
    `unseen` categories the model never saw."""
    rows = prepare_features(data, target).sample(n, replace=True, random_state=3).reset_index(drop=True)
    rng = np.random.default_rng(7)
    for name in rows.columns:
        gaps = rng.random(n) < 0.1
        rows.loc[gaps, name] = np.nan if pd.api.types.is_numeric_dtype(rows[name]) else None
    for name, value in unseen.items():
        rows.loc[rng.random(n) < 0.1, name] = value
    return rows


def awkward_rows(data: pd.DataFrame, n: int = 300) -> pd.DataFrame:
    return awkward(data, "species", {"island": "Atlantis", "sex": "unknown"}, n)


@pytest.mark.parametrize("estimator", sorted(ESTIMATORS))
def test_every_trained_estimator_compiles_to_exactly_its_own_probabilities(data, estimator):
    model = train(data, "species", estimator, {}, 42)
    compiled = inference.compile_model(model)
    rows = awkward_rows(data)
    columns = inference.columns_of(rows)

    expected = model.predict_proba(prepare_features(rows))
    assert np.array_equal(compiled.predict_proba(columns), expected)
    # The load-time check agrees, probe rows included.
    inference.verify(compiled, model, inference.probe_rows(rows.head(5), known_categories(model)))


def test_a_missing_category_is_served_as_training_saw_it(data):
    """Training keeps a missing text value as None, a category of its own; a frame pandas
    builds by default turns it into NaN, which the imputer replaces: a different input."""
    model = train(data, "species", "random_forest", {"n_estimators": 20}, 42)
    rows = prepare_features(data, "species").head(20).copy()
    rows.loc[rows.index[::2], "sex"] = None
    as_trained = model.predict_proba(prepare_features(rows))
    columns = inference.columns_of(rows)

    assert np.array_equal(model.predict_proba(inference.frame_of(columns)), as_trained)
    assert np.array_equal(inference.compile_model(model).predict_proba(columns), as_trained)
    naive = model.predict_proba(pd.DataFrame(columns))
    assert not np.array_equal(naive, as_trained), "the None category no longer matters: this test proves nothing"


def test_a_forest_is_summed_in_scikit_learns_order(data):
    model = train(data, "species", "random_forest", {"n_estimators": 100}, 42)
    rows = prepare_features(data, "species")
    got = inference.compile_model(model).predict_proba(inference.columns_of(rows))
    assert got.dtype == np.float64
    assert np.array_equal(got, model.predict_proba(rows))


def _with_preprocess(data, preprocess) -> Pipeline:
    features = prepare_features(data, "species")
    model = Pipeline([("preprocess", preprocess), ("classifier", LogisticRegression(max_iter=500))])
    return model.fit(features.fillna({"bill_length_mm": 0.0}).fillna(0.0), data["species"].astype(str))


@pytest.mark.parametrize(
    ("build", "reason"),
    [
        (lambda data: train(data, "species", "random_forest", {}, 1).named_steps["classifier"], "two-step Pipeline"),
        (
            lambda data: _with_preprocess(data, ColumnTransformer([("scale", MinMaxScaler(), ["body_mass_g"])])),
            "MinMaxScaler",
        ),
        (
            lambda data: _with_preprocess(
                data, ColumnTransformer([("encode", OneHotEncoder(handle_unknown="error"), ["island"])])
            ),
            "raises on unknown categories",
        ),
    ],
)
def test_a_shape_it_does_not_reproduce_is_refused_with_the_reason(data, build, reason):
    with pytest.raises(inference.NotCompiled, match=reason):
        inference.compile_model(build(data))


def test_a_compiled_model_that_disagrees_is_not_used(data):
    model = train(data, "species", "random_forest", {"n_estimators": 10}, 1)
    other = train(data, "species", "random_forest", {"n_estimators": 10}, 2)
    example = prepare_features(data, "species").head(5)

    with pytest.raises(inference.NotCompiled, match="differs from the model's own predict_proba"):
        inference.verify(inference.compile_model(other), model, example)


def test_compile_checked_says_how_the_model_is_served(data, settings):
    model = train(data, "species", "random_forest", {"n_estimators": 10}, 1)
    example = prepare_features(data, "species").head(5)
    categories = known_categories(model)

    compiled, how = compile_checked(model, example, categories)
    assert compiled is not None
    assert how.startswith("compiled")

    refused, how = compile_checked(model.named_steps["classifier"], example, categories)
    assert refused is None
    assert "two-step Pipeline" in how

    settings.COMPILED_INFERENCE = False
    off, how = compile_checked(model, example, categories)
    assert off is None
    assert "COMPILED_INFERENCE is off" in how


def test_a_model_trained_on_numbers_only_is_served_compiled():
    """Its one-hot encoder selects no column and is never fitted: nothing may read it."""
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer(as_frame=True).frame
    model = train(data, "target", "random_forest", {"n_estimators": 20}, 42)
    rows = prepare_features(data, "target")

    assert known_categories(model) == {}
    compiled, how = compile_checked(model, rows.head(5), {})
    assert compiled is not None, how
    assert np.array_equal(compiled.predict_proba(inference.columns_of(rows)), model.predict_proba(rows))


def test_a_forest_behind_a_sparse_column_transformer_is_compiled_exactly(data):
    """Many categories make the ColumnTransformer's output sparse; the forest's answers on the
    dense equivalent are the same, so such a model keeps the fast path."""
    model = train(data, "species", "random_forest", {"n_estimators": 30}, 42)
    model.named_steps["preprocess"].set_params(sparse_threshold=1.0)
    model.fit(prepare_features(data, "species"), data["species"].astype(str))
    assert model.named_steps["preprocess"].sparse_output_
    rows = awkward_rows(data)

    compiled = inference.compile_model(model)
    assert np.array_equal(
        compiled.predict_proba(inference.columns_of(rows)), model.predict_proba(prepare_features(rows))
    )


def with_many_categories_and_a_boolean(data: pd.DataFrame) -> pd.DataFrame:
    rows = data.reset_index(drop=True)
    return rows.assign(
        tag=[f"t{i % 120}" if i % 3 else "common" for i in range(len(rows))],
        ringed=[i % 2 == 0 for i in range(len(rows))],
    )


@pytest.mark.parametrize("estimator", ["random_forest", "decision_tree"])
def test_bounded_categories_and_booleans_are_compiled_exactly(data, estimator):
    """A column with more values than MAX_CATEGORIES keeps the frequent ones and groups the rest,
    and a boolean column is a category of booleans: both stay on the compiled path."""
    frame = with_many_categories_and_a_boolean(data)
    model = train(frame, "species", estimator, {}, 42)
    compiled = inference.compile_model(model)
    rows = prepare_features(frame, "species").sample(200, replace=True, random_state=5).reset_index(drop=True)
    rows.loc[rows.index[::7], "tag"] = "never seen"
    columns = inference.columns_of(rows)

    assert np.array_equal(compiled.predict_proba(columns), model.predict_proba(prepare_features(rows)))
    categories = known_categories(model)
    assert len(categories["tag"]) < 50
    assert categories["ringed"] == ["False", "True"]
    inference.verify(compiled, model, inference.probe_rows(rows.head(5), categories))


@pytest.fixture(scope="module")
def houses() -> pd.DataFrame:
    return demo_frame(1, "houses")


def awkward_houses(data: pd.DataFrame, n: int = 300) -> pd.DataFrame:
    return awkward(data, "price", {"district": "Atlantis"}, n)


@pytest.mark.parametrize("estimator", sorted(REGRESSORS))
def test_every_trained_regressor_compiles_to_exactly_its_own_predictions(houses, estimator):
    model = train(houses, "price", estimator, {}, 42, task=REGRESSION)
    compiled = inference.compile_model(model)
    rows = awkward_houses(houses)
    columns = inference.columns_of(rows)

    expected = model.predict(prepare_features(rows))
    got = compiled.predict(columns)
    assert got.dtype == np.float64
    assert np.array_equal(got, expected)  # difference 0
    inference.verify(compiled, model, inference.probe_rows(rows.head(5), known_categories(model)))
    served, how = compile_checked(model, rows.head(5), known_categories(model))
    assert served is not None
    assert how == "compiled: the pipeline's arithmetic from its arrays, checked equal to its own predict"
