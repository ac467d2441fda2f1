"""The one predict function, called as another protocol's adapter would: a decoded body in, an
Outcome out, the same answer /api/v1/predict encodes."""

from predictor.api.predict import predict
from predictor.serving.holder import holder


def test_an_adapter_gets_the_same_answer_as_the_json_api(client, served, rows):
    models = holder()
    outcome = predict({"instances": rows}, models.current, models, None)
    answered = client.post("/api/v1/predict", {"instances": rows}, content_type="application/json").json()

    assert outcome.status == 200
    assert outcome.body["predictions"] == answered["predictions"]
    assert outcome.body["probabilities"].tolist() == answered["probabilities"]
    assert outcome.ids == outcome.body["prediction_ids"]
    assert len(outcome.ids) == len(rows)
    assert outcome.body["model"] == answered["model"]


def test_a_bad_body_is_an_outcome_naming_what_is_wrong_not_an_exception(served):
    models = holder()
    outcome = predict({"instances": [{"bill_length_mm": "long"}]}, models.current, models, None)

    assert outcome.status == 400
    assert outcome.body["error"] == "some rows do not match the model's input schema"
    assert outcome.body["errors"]
    assert outcome.ids == []
    assert not outcome.retry_later
