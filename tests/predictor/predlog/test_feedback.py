import json
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from predictor.api import apikeys
from predictor.models import LoggedVersion, Prediction
from predictor.predlog.ids import in_sample, new_ids
from tests.support.keys import create_key
from tests.support.predlog import predict

FEEDBACK = "/api/v1/feedback"
CLASSES = ["Adelie", "Chinstrap", "Gentoo"]


def send(client, body, content_type="application/json", **headers):
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    return client.post(FEEDBACK, data, content_type=content_type, headers=headers)


def logged(count: int = 1, version: str = "1", classes=CLASSES) -> list[str]:
    """Predictions as the writer logs them, without a model: the feedback side only reads rows."""
    LoggedVersion.objects.update_or_create(version=version, defaults={"model_name": "m", "classes": classes})
    ids = new_ids(count)
    Prediction.objects.bulk_create(
        Prediction(
            id=i, created_at=timezone.now(), model_version=version, inputs={}, prediction=(classes or ["1.5"])[0]
        )
        for i in ids
    )
    return ids


def label_of(prediction_id: str) -> str | None:
    return Prediction.objects.get(id=prediction_id).label


def test_it_records_the_label_of_one_prediction(client, db):
    (pid,) = logged()
    response = send(client, {"prediction_id": pid, "label": "Gentoo"})
    assert response.status_code == 200
    assert response.json() == {"recorded": 1}
    row = Prediction.objects.get(id=pid)
    assert (row.label, row.labelled_at is not None) == ("Gentoo", True)


def test_it_records_a_batch(client, db):
    ids = logged(3)
    items = [{"prediction_id": pid, "label": label} for pid, label in zip(ids, CLASSES, strict=True)]
    assert send(client, {"feedback": items}).json() == {"recorded": 3}
    assert [label_of(pid) for pid in ids] == CLASSES


def test_sending_the_same_id_again_replaces_the_label(client, db):
    (pid,) = logged()
    send(client, {"prediction_id": pid, "label": "Gentoo"})
    again = send(client, {"prediction_id": pid, "label": "Adelie"})
    assert again.status_code == 200
    assert label_of(pid) == "Adelie"
    assert Prediction.objects.filter(label__isnull=False).count() == 1


def test_an_unknown_id_is_400_naming_the_item(client, db):
    ids = logged(2)
    stranger = str(uuid.uuid4())
    response = send(
        client,
        {"feedback": [{"prediction_id": ids[0], "label": "Gentoo"}, {"prediction_id": stranger, "label": "Gentoo"}]},
    )
    assert response.status_code == 400
    assert response.json() == {
        "error": "1 feedback item is not valid: nothing was recorded",
        "errors": [{"item": 1, "field": "prediction_id", "message": f"no logged prediction has the id {stranger}"}],
    }
    assert label_of(ids[0]) is None


def test_a_label_the_model_that_made_the_prediction_does_not_know_is_400(client, db):
    (old,) = logged(version="1", classes=["cat", "dog"])
    (new,) = logged(version="2")
    response = send(
        client, {"feedback": [{"prediction_id": old, "label": "Gentoo"}, {"prediction_id": new, "label": "Gentoo"}]}
    )
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"item": 0, "field": "label", "message": "'Gentoo' is not a class of model version 1 (its classes: cat, dog)"}
    ]
    assert label_of(new) is None


def test_numeric_classes_take_numbers_or_their_text(client, db):
    ids = logged(2, classes=[0, 1])
    response = send(
        client, {"feedback": [{"prediction_id": ids[0], "label": 1}, {"prediction_id": ids[1], "label": "0"}]}
    )
    assert response.status_code == 200
    assert [label_of(pid) for pid in ids] == ["1", "0"]


@pytest.mark.parametrize(
    ("item", "field", "message"),
    [
        ("Gentoo", None, "must be an object with 'prediction_id' and 'label'"),
        ({"label": "Gentoo"}, "prediction_id", "required: the prediction_id a prediction response gave"),
        ({"prediction_id": "abc", "label": "Gentoo"}, "prediction_id", "'abc' is not a prediction id (a UUID)"),
        (
            {"prediction_id": "{pid}"},
            "label",
            "required: the true class, as a string (or a number for numeric classes)",
        ),
        (
            {"prediction_id": "{pid}", "label": True},
            "label",
            "required: the true class, as a string (or a number for numeric classes)",
        ),
        ({"prediction_id": "{pid}", "label": "Gentoo", "weight": 2}, "weight", "unknown field(s): weight"),
    ],
)
def test_a_malformed_item_is_400_naming_it_and_nothing_is_recorded(client, db, item, field, message):
    ids = logged(2)
    if isinstance(item, dict) and item.get("prediction_id") == "{pid}":
        item = {**item, "prediction_id": ids[1]}
    response = send(client, {"feedback": [{"prediction_id": ids[0], "label": "Gentoo"}, item]})
    assert response.status_code == 400
    assert response.json()["errors"] == [{"item": 1, "field": field, "message": message}]
    assert label_of(ids[0]) is None


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ("{not json", "the body is not valid JSON"),
        ("[1, 2]", 'the body must be {"prediction_id": ..., "label": ...} or {"feedback": [...]}'),
        ('{"feedback": {}}', "'feedback' must be a list of {prediction_id, label} objects"),
        ('{"feedback": []}', "'feedback' is empty: send at least one item"),
        ('{"feedback": [], "extra": 1}', "unknown key(s) beside 'feedback': extra"),
    ],
)
def test_a_malformed_body_is_400_saying_what_is_wrong(client, db, body, error):
    response = send(client, body)
    assert response.status_code == 400
    assert response.json()["error"].startswith(error)


def test_a_body_that_is_not_json_is_415(client, db):
    response = send(client, "prediction_id=1", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415


def test_more_than_ten_thousand_items_is_413(client, db):
    (pid,) = logged()
    response = send(client, {"feedback": [{"prediction_id": pid, "label": "Gentoo"}] * 10_001})
    assert response.status_code == 413
    assert response.json()["error"] == "10001 items is more than the limit of 10000 per request"
    assert label_of(pid) is None


def test_ten_thousand_items_go_in_at_once(client, db):
    ids = logged(10_000)
    response = send(client, {"feedback": [{"prediction_id": pid, "label": "Chinstrap"} for pid in ids]})
    assert response.json() == {"recorded": 10_000}
    assert Prediction.objects.filter(label="Chinstrap").count() == 10_000


def test_a_prediction_sampled_out_of_the_log_cannot_take_feedback_and_the_error_says_so(client, db, settings):
    settings.PREDICTION_LOG_SAMPLE = 0.5
    outside = next(pid for pid in new_ids(64) if not in_sample(pid, 0.5))
    response = send(client, {"prediction_id": outside, "label": "Gentoo"})
    assert response.status_code == 400
    message = response.json()["errors"][0]["message"]
    assert "was not logged" in message
    assert "PREDICTION_LOG_SAMPLE=0.5" in message


def test_a_pruned_prediction_is_named_as_pruned(client, db, settings, monkeypatch):
    settings.PREDICTION_LOG_SAMPLE = 1.0
    settings.PREDICTION_LOG_DAYS = 7
    monkeypatch.setattr("time.time", lambda: (timezone.now() - timedelta(days=8)).timestamp())
    (old,) = new_ids(1)
    monkeypatch.undo()
    message = send(client, {"prediction_id": old, "label": "Gentoo"}).json()["errors"][0]["message"]
    assert "has been pruned (the log keeps 7 days: PREDICTION_LOG_DAYS)" in message


def test_feedback_needs_an_api_key_when_predictions_do(client, db, settings):
    (pid,) = logged()
    settings.API_KEYS_REQUIRED = True
    apikeys.forget()
    try:
        refused = send(client, {"prediction_id": pid, "label": "Gentoo"})
        assert refused.status_code == 401
        assert (
            send(client, {"prediction_id": pid, "label": "Gentoo"}, Authorization="Bearer nope.nope").status_code == 401
        )
        _, key = create_key("labeller")
        accepted = send(client, {"prediction_id": pid, "label": "Gentoo"}, Authorization=f"Bearer {key}")
        assert accepted.status_code == 200
    finally:
        apikeys.forget()
    assert label_of(pid) == "Gentoo"


def test_only_post_is_allowed(client, db):
    response = client.get(FEEDBACK)
    assert response.status_code == 405
    assert response["Allow"] == "POST"


def test_a_served_prediction_takes_its_label_end_to_end(client, served, rows, prediction_log):
    ids = predict(client, rows[:2])
    assert prediction_log.flush()
    response = send(client, {"feedback": [{"prediction_id": pid, "label": "Adelie"} for pid in ids]})
    assert response.json() == {"recorded": 2}
    assert [label_of(pid) for pid in ids] == ["Adelie", "Adelie"]


def test_a_label_is_taken_as_its_canonical_class(db):
    """1.0 and "1" are the class "1" of a model that serves "1": accepted, and stored as "1"."""
    from predictor.models import LoggedVersion, Prediction
    from predictor.predlog import record_labels
    from predictor.predlog.ids import new_ids

    LoggedVersion.objects.create(version="7", model_name="m", classes=["0", "1"])
    ids = new_ids(2)
    for pid in ids:
        Prediction.objects.create(id=pid, created_at=timezone.now(), model_version="7", inputs={}, prediction="1")

    items = [{"prediction_id": str(ids[0]), "label": 1.0}, {"prediction_id": str(ids[1]), "label": "1"}]
    assert record_labels(items) == (2, 0)
    assert set(Prediction.objects.values_list("label", flat=True)) == {"1"}


def test_a_regression_takes_finite_numbers_only_naming_each_bad_item(client, db, settings):
    from predictor.models import Deployment

    settings.MODEL_NAME = "houses"
    Deployment.objects.create(model_name="houses", version="7", source="pipeline", data_version={"task": "regression"})
    ids = logged(4, version="7", classes=None)

    refused = send(
        client, {"feedback": [{"prediction_id": ids[0], "label": "cheap"}, {"prediction_id": ids[1], "label": "inf"}]}
    )

    assert refused.status_code == 400
    assert [(e["item"], e["field"]) for e in refused.json()["errors"]] == [(0, "label"), (1, "label")]
    assert "'cheap' is not a finite number: model version 7 is a regression" in refused.json()["errors"][0]["message"]
    assert label_of(ids[0]) is None
    items = [{"prediction_id": pid, "label": value} for pid, value in zip(ids, [231.5, 200, "199.25", -3], strict=True)]
    assert send(client, {"feedback": items}).json() == {"recorded": 4}
    assert [label_of(pid) for pid in ids] == ["231.5", "200", "199.25", "-3"]
