"""Feedback a product can trust: each key labels its own predictions, every label given is kept
with who gave it, and a label sent before its prediction is written is held, then applied."""

import json
from datetime import timedelta

from django.utils import timezone

from predictor import models, predlog
from predictor.api import apikeys
from predictor.api.openapi import PATHS
from predictor.api.report import report
from predictor.models import LoggedVersion, Prediction
from predictor.predlog.ids import new_ids
from tests.support.keys import create_key
from tests.support.predlog import predict

FEEDBACK = "/api/v1/feedback"
CLASSES = ["Adelie", "Chinstrap", "Gentoo"]


def send(client, body, key: str | None = None):
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return client.post(FEEDBACK, json.dumps(body), content_type="application/json", headers=headers)


def logged(key_id: int | None = None, version: str = "1") -> str:
    LoggedVersion.objects.update_or_create(version=version, defaults={"model_name": "m", "classes": CLASSES})
    (pid,) = new_ids(1)
    made_by = {"api_key_id": key_id} if key_id is not None else {}
    Prediction.objects.create(
        id=pid, created_at=timezone.now(), model_version=version, inputs={}, prediction="Adelie", **made_by
    )
    return pid


def test_a_key_cannot_label_another_keys_prediction(client, db, keys_required):
    owner, owner_key = create_key("owner")
    _, other_key = create_key("other")
    pid = logged(owner.pk)

    refused = send(client, {"prediction_id": pid, "label": "Gentoo"}, other_key)

    assert refused.status_code == 403
    assert refused.json()["errors"] == [
        {
            "item": 0,
            "field": "prediction_id",
            "message": f"prediction {pid} was made with another API key: a key labels only its own predictions",
        }
    ]
    assert Prediction.objects.get(id=pid).label is None
    assert send(client, {"prediction_id": pid, "label": "Gentoo"}, owner_key).status_code == 200
    assert Prediction.objects.get(id=pid).label == "Gentoo"


def test_a_prediction_records_the_key_that_made_it(client, served, rows, prediction_log, keys_required):
    key, secret = create_key("client")
    response = client.post(
        "/api/v1/predict",
        json.dumps({"instances": rows[:1]}),
        content_type="application/json",
        headers={"Authorization": f"Bearer {secret}"},
    )
    assert response.status_code == 200
    assert prediction_log.flush()
    (pid,) = response.json()["prediction_ids"]
    assert Prediction.objects.get(id=pid).api_key_id == key.pk


def test_feedback_requires_a_key_when_told_even_with_predictions_open(client, db, settings):
    settings.API_KEYS_REQUIRED = False
    settings.FEEDBACK_REQUIRES_KEY = True
    apikeys.forget()
    pid = logged()
    assert send(client, {"prediction_id": pid, "label": "Gentoo"}).status_code == 401
    _, key = create_key("labeller")
    assert send(client, {"prediction_id": pid, "label": "Gentoo"}, key).status_code == 200
    apikeys.forget()


def test_a_replaced_label_is_kept_with_who_gave_each_and_when(client, db, keys_required):
    owner, key = create_key("owner")
    pid = logged(owner.pk)
    send(client, {"prediction_id": pid, "label": "Gentoo"}, key)
    send(client, {"prediction_id": pid, "label": "Adelie"}, key)

    changes = list(models.LabelChange.objects.filter(prediction_id=pid).order_by("id"))
    assert [(c.old_label, c.label, c.source, c.api_key_id) for c in changes] == [
        (None, "Gentoo", f"key:{owner.pk}", owner.pk),
        ("Gentoo", "Adelie", f"key:{owner.pk}", owner.pk),
    ]
    assert all(c.given_at is not None for c in changes)
    # Live figures read the newest.
    assert Prediction.objects.get(id=pid).label == "Adelie"


def test_without_keys_the_client_address_is_who_labelled(client, db):
    pid = logged()
    client.post(
        FEEDBACK,
        json.dumps({"prediction_id": pid, "label": "Gentoo"}),
        content_type="application/json",
        REMOTE_ADDR="10.1.2.3",
    )
    assert models.LabelChange.objects.get(prediction_id=pid).source == "address:10.1.2.3"


def test_feedback_before_the_prediction_is_written_is_held_and_applied_when_it_is(
    client, served, rows, prediction_log, monkeypatch
):
    early = new_ids(1)
    monkeypatch.setattr(predlog, "new_ids", lambda count: early)

    held = send(client, {"prediction_id": early[0], "label": "Gentoo"})

    assert held.status_code == 202
    assert held.json() == {"recorded": 0, "held": 1}
    assert models.HeldLabel.objects.count() == 1
    assert predict(client, rows[:1]) == early
    assert prediction_log.flush()
    row = Prediction.objects.get(id=early[0])
    assert row.label == "Gentoo"
    assert models.HeldLabel.objects.count() == 0
    assert models.LabelChange.objects.get(prediction_id=early[0]).label == "Gentoo"


def test_a_held_label_past_its_time_is_dropped_and_counted(client, served, rows, prediction_log, monkeypatch):
    early = new_ids(1)
    monkeypatch.setattr(predlog, "new_ids", lambda count: early)
    assert send(client, {"prediction_id": early[0], "label": "Gentoo"}).status_code == 202
    models.HeldLabel.objects.update(expires_at=timezone.now() - timedelta(seconds=1))

    predict(client, rows[:1])
    assert prediction_log.flush()

    assert Prediction.objects.get(id=early[0]).label is None
    assert report()["prediction_log"]["feedback"] == {"held": 0, "dropped": 1}


def test_the_openapi_schema_says_early_feedback_is_accepted():
    responses = PATHS["/api/v1/feedback"]["post"]["responses"]
    assert "202" in responses
    assert "held" in responses["202"]["content"]["application/json"]["schema"]["properties"]
    assert "403" in responses


def test_a_held_label_for_another_keys_prediction_is_dropped_with_the_reason(client, db, keys_required, settings):
    from predictor.predlog import held

    settings.PREDICTION_LOG_SAMPLE = 1.0
    owner, owner_key = create_key("owner")
    _, other_key = create_key("other")
    theirs, mine = new_ids(2)
    assert send(client, {"prediction_id": theirs, "label": "Gentoo"}, other_key).status_code == 202
    assert send(client, {"prediction_id": mine, "label": "Gentoo"}, owner_key).status_code == 202
    LoggedVersion.objects.update_or_create(version="1", defaults={"model_name": "m", "classes": CLASSES})
    for pid in (theirs, mine):
        Prediction.objects.create(
            id=pid, created_at=timezone.now(), model_version="1", inputs={}, prediction="Adelie", api_key_id=owner.pk
        )

    assert held.apply() == 1

    dropped = models.HeldLabel.objects.get()
    assert (str(dropped.prediction_id), dropped.source) == (theirs, f"key:{dropped.api_key_id}")
    assert "was made with another API key" in dropped.dropped
    assert held.counts() == {"held": 0, "dropped": 1}
    assert Prediction.objects.get(id=theirs).label is None
    assert Prediction.objects.get(id=mine).label == "Gentoo"


def test_a_held_label_of_a_class_the_version_does_not_know_is_dropped(client, db, settings):
    from predictor.predlog import held

    settings.PREDICTION_LOG_SAMPLE = 1.0
    (pid,) = new_ids(1)
    assert send(client, {"prediction_id": pid, "label": "Zebra"}).status_code == 202
    LoggedVersion.objects.update_or_create(version="1", defaults={"model_name": "m", "classes": CLASSES})
    Prediction.objects.create(id=pid, created_at=timezone.now(), model_version="1", inputs={}, prediction="Adelie")

    assert held.apply() == 0
    assert models.HeldLabel.objects.get().dropped.startswith("'Zebra' is not a class of model version 1")
    assert Prediction.objects.get(id=pid).label is None
