"""A pipeline of a shape the product knows is served compiled; any other through its own methods.
GET /api/v1/model says which, and the answers are the model's own either way."""

import numpy as np
import pandas as pd
import pytest
from sklearn.preprocessing import MinMaxScaler
from sklearn.svm import LinearSVC

from ml.contract import CLASSIFIER, NUMERIC, PREPROCESS, SCALE
from ml.estimators import build_pipeline
from ml.features import prepare_features
from ml.task import CLASSIFICATION
from predictor.serving.holder import holder
from tests.support.serving import deploy, log_penguins_model


def fitted(frame: pd.DataFrame, **steps) -> object:
    """The product's own pipeline with some of its steps replaced (`steps` as set_params names them)."""
    model = build_pipeline(frame, "species", "random_forest", {"n_estimators": 5}, 42).set_params(**steps)
    return model.fit(prepare_features(frame, "species"), CLASSIFICATION.labels(frame["species"]))


def serve(frame: pd.DataFrame, model) -> None:
    deploy(log_penguins_model(frame, {}, model=model))
    assert holder().sync() is True


def predict(client, rows) -> dict:
    response = client.post("/api/v1/predict", {"instances": rows}, content_type="application/json")
    assert response.status_code == 200, response.content
    return response.json()


def test_a_pipeline_of_a_known_shape_is_served_compiled(client, served):
    body = client.get("/api/v1/model").json()

    assert body["serving"] == "compiled"
    assert body["inference"].startswith("compiled")


def test_a_pipeline_with_a_step_the_compiler_does_not_know_is_served_through_its_own_predict_proba(
    client, served, penguin_versions, rows
):
    frame = penguin_versions.frame
    model = fitted(frame, **{f"{PREPROCESS}__{NUMERIC}__{SCALE}": MinMaxScaler()})
    serve(frame, model)

    body = client.get("/api/v1/model").json()
    answer = predict(client, rows)

    assert body["serving"] == "model"
    assert "MinMaxScaler" in body["inference"]
    assert holder().current.compiled is None
    expected = model.predict_proba(pd.DataFrame(rows))
    assert np.array_equal(np.asarray(answer["probabilities"]), expected)
    assert answer["predictions"] == list(model.predict(pd.DataFrame(rows)))


def test_a_classifier_without_predict_proba_is_served_through_its_own_predict(client, served, penguin_versions, rows):
    frame = penguin_versions.frame
    model = fitted(frame, **{CLASSIFIER: LinearSVC(random_state=0)})
    serve(frame, model)

    body = client.get("/api/v1/model").json()
    answer = predict(client, rows)

    assert body["serving"] == "model"
    assert "probabilities" not in answer
    assert answer["predictions"] == list(model.predict(pd.DataFrame(rows)))


@pytest.mark.parametrize("compiled", [True, False])
def test_with_compiled_inference_off_the_known_shape_is_served_by_the_model(
    client, served, penguin_versions, rows, settings, compiled
):
    settings.COMPILED_INFERENCE = compiled
    serve(penguin_versions.frame, fitted(penguin_versions.frame))

    assert client.get("/api/v1/model").json()["serving"] == ("compiled" if compiled else "model")


def test_the_schema_documents_which_path_serves(client, served):
    paths = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()["paths"]

    answer = paths["/api/v1/model"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert answer["properties"]["serving"]["enum"] == ["compiled", "model"]
    assert "serving" in answer["required"]
