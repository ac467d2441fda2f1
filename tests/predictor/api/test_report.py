from datetime import timedelta

import pytest
from django.utils import timezone

from predictor.models import Deployment, LoggedVersion, Prediction
from predictor.predlog import rollups
from predictor.predlog.ids import new_ids

MONITORING = "/api/v1/monitoring"
CLASSES = ["Adelie", "Chinstrap", "Gentoo"]


def log(version: str, label: str | None = None, ago=timedelta(minutes=5)) -> None:
    (pid,) = new_ids(1)
    Prediction.objects.create(
        id=pid,
        created_at=timezone.now() - ago,
        model_version=version,
        inputs={"island": "Biscoe"},
        prediction="Adelie",
        probabilities=[0.7, 0.2, 0.1],
        label=label,
    )
    # Written past the log writer: its hour's rollups as the writer and feedback would have kept them.
    rollups.rebuild()


@pytest.fixture
def history(db):
    """Version 1 served last week, version 2 now; labels for both."""
    Deployment.objects.create(model_name="m", version="1", source="bootstrap", metrics={"accuracy": 0.95})
    Deployment.objects.create(model_name="m", version="2", source="pipeline", metrics={"accuracy": 0.97})
    for version in ("1", "2"):
        LoggedVersion.objects.create(version=version, model_name="m", classes=CLASSES)
    for _ in range(4):
        log("1", "Adelie", ago=timedelta(days=3))
    log("1", "Gentoo", ago=timedelta(days=3))
    for _ in range(3):
        log("2", "Adelie")
    log("2")


def test_staff_see_volume_and_live_quality_next_to_the_holdout_per_version(client, staff_user, history):
    client.force_login(staff_user)
    response = client.get(MONITORING)
    assert response.status_code == 200
    body = response.json()
    assert body["volume"] == {"last_hour": {"2": 4}, "last_day": {"2": 4}, "last_7_days": {"1": 5, "2": 4}}
    two, one = body["quality"]
    assert (two["version"], two["serving"], two["holdout"]) == ("2", True, {"accuracy": 0.97})
    assert two["live"]["last_day"]["labels"] == 3
    assert two["live"]["last_day"]["metrics"]["accuracy"]["value"] == 1.0
    assert (one["version"], one["serving"], one["holdout"]) == ("1", False, {"accuracy": 0.95})
    assert one["live"]["last_day"]["labels"] == 0
    week = one["live"]["last_7_days"]
    assert week["labels"] == 5
    assert week["metrics"]["accuracy"]["value"] == 0.8
    assert week["metrics"]["accuracy"]["low"] < 0.8 < week["metrics"]["accuracy"]["high"]
    assert body["prediction_log"]["sample"] == 0.0
    assert body["prediction_log"]["retention_days"] == 30


def test_the_runs_api_token_reads_it_too(client, history, settings):
    settings.RETRAIN_API_TOKEN = "s3cret-token"
    assert client.get(MONITORING, headers={"Authorization": "Bearer s3cret-token"}).status_code == 200
    assert client.get(MONITORING, headers={"Authorization": "Bearer wrong"}).status_code == 401


def test_anyone_else_is_refused(client, regular_user, history):
    assert client.get(MONITORING).status_code in {401, 403}
    client.force_login(regular_user)
    assert client.get(MONITORING).status_code == 403


def test_the_served_version_is_reported_before_it_has_predictions(client, staff_user, db):
    Deployment.objects.create(model_name="m", version="3", source="bootstrap", metrics={"accuracy": 0.9})
    client.force_login(staff_user)
    quality = client.get(MONITORING).json()["quality"]
    assert [(q["version"], q["live"]["last_day"]["labels"]) for q in quality] == [("3", 0)]


def test_the_openapi_schema_describes_feedback_and_monitoring(client, db):
    paths = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()["paths"]
    assert set(paths["/api/v1/feedback"]["post"]["responses"]) >= {"200", "400", "401", "413", "415"}
    assert "X-Prediction-Id" in paths["/api/v1/predict"]["post"]["responses"]["200"]["headers"]
    assert "quality" in str(paths["/api/v1/monitoring"]["get"]["responses"]["200"])
