"""A served regressor answers numbers: no classes, no probabilities, compiled and exact."""

import json
import uuid

import jsonschema
import numpy as np
import pandas as pd
import pytest
from django.test import override_settings

from demo.datasets import houses
from ml.estimators import train
from ml.features import prepare_features
from ml.task import REGRESSION
from predictor import services
from predictor.api.openapi import _PREDICTION
from predictor.models import Deployment
from predictor.serving import registry
from predictor.serving.holder import holder, served_model


@pytest.fixture(scope="module")
def regressor():
    frame = houses(400, 3)
    model = train(frame, "price", "random_forest", {"n_estimators": 20}, 42, task=REGRESSION)
    features = prepare_features(frame, "price")
    name = f"test-regressor-{uuid.uuid4().hex[:8]}"
    with override_settings(MODEL_NAME=name):
        version = registry.log_model(
            model,
            params={},
            metrics={"rmse": 30.0, "mae": 20.0, "r2": 0.9},
            tags={"data.md5": "abc", "data.task": "regression"},
            signature_input=features,
            input_example=features.head(5),
            run_name="test",
        ).version
        return name, registry.load_version(version), features


@pytest.fixture
def served_regressor(db, settings, regressor, follower_off):
    name, loaded, features = regressor
    settings.MODEL_NAME = name
    deployment = services.deploy(loaded.version, source=Deployment.Source.BOOTSTRAP)
    row = {"id": deployment.pk, "model_name": deployment.model_name, "run_id": deployment.run_id}
    holder().serve(served_model(row, loaded))
    return loaded, features


def test_a_regressor_answers_numbers_exactly_as_its_own_predict(client, served_regressor):
    loaded, features = served_regressor
    rows = features.head(7)
    body = [{k: (None if pd.isna(v) else v) for k, v in row.items()} for row in rows.to_dict("records")]

    response = client.post("/api/v1/predict", json.dumps({"instances": body}), content_type="application/json")

    assert response.status_code == 200, response.content
    answer = response.json()
    assert "classes" not in answer
    assert "probabilities" not in answer
    assert all(isinstance(p, float) for p in answer["predictions"])
    assert np.array_equal(np.array(answer["predictions"]), loaded.model.predict(rows))
    jsonschema.validate(answer, _PREDICTION)
    info = client.get("/api/v1/model").json()
    assert info["task"] == "regression"
    assert info["classes"] is None
    assert info["inference"].startswith("compiled")


def test_the_openapi_answer_tells_a_regression_from_a_classification():
    regression = {"predictions": [1.5], "prediction_ids": [str(uuid.uuid4())], "model": {}}
    jsonschema.validate(regression, _PREDICTION)
    classification = {**regression, "predictions": ["a"], "classes": ["a", "b"], "probabilities": [[0.6, 0.4]]}
    jsonschema.validate(classification, _PREDICTION)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**regression, "predictions": [[1.5]]}, _PREDICTION)
