from datetime import timedelta

import pytest
from django.utils import timezone

from predictor.models import LoggedVersion, Prediction
from predictor.predlog import live_metric, live_metrics, logged_inputs, prediction_volume, rollups
from predictor.predlog.ids import new_ids
from predictor.predlog.quality import wilson

CLASSES = ["Adelie", "Chinstrap", "Gentoo"]


def log(version="1", *, ago=timedelta(minutes=5), prediction="Adelie", label=None, inputs=None, proba=None):
    (pid,) = new_ids(1)
    row = Prediction.objects.create(
        id=pid,
        created_at=timezone.now() - ago,
        model_version=version,
        inputs=inputs or {"island": "Biscoe", "body_mass_g": 4000.0},
        prediction=prediction,
        probabilities=proba,
        label=label,
    )
    # Written past the log writer: its hour's rollups as the writer and feedback would have kept them.
    rollups.rebuild()
    return row


def test_logged_inputs_are_the_inputs_columns_then_prediction_version_and_time(db):
    log(inputs={"island": "Dream", "body_mass_g": None}, ago=timedelta(hours=2))
    log(inputs={"island": "Biscoe", "body_mass_g": 4000.0}, prediction="Gentoo")
    log(version="2", ago=timedelta(days=3))
    frame = logged_inputs(timezone.now() - timedelta(days=1))
    assert list(frame.columns) == ["island", "body_mass_g", "prediction", "model_version", "created_at"]
    assert frame["island"].tolist() == ["Dream", "Biscoe"]
    assert frame["prediction"].tolist() == ["Adelie", "Gentoo"]
    assert frame["created_at"].is_monotonic_increasing
    assert str(frame["created_at"].dt.tz) == "UTC"


def test_logged_inputs_filter_by_version_and_keep_the_newest_within_a_limit(db):
    for minutes in (30, 20, 10):
        log(ago=timedelta(minutes=minutes), inputs={"minutes": minutes})
    log(version="2")
    since = timezone.now() - timedelta(days=1)
    assert logged_inputs(since, version="1", limit=2)["minutes"].tolist() == [20, 10]
    assert logged_inputs(since, version="2")["model_version"].tolist() == ["2"]
    empty = logged_inputs(since, version="9")
    assert empty.empty
    assert {"prediction", "model_version", "created_at"} <= set(empty.columns)


def test_prediction_volume_counts_each_version_per_window(db):
    log(ago=timedelta(minutes=10))
    log(ago=timedelta(hours=5))
    log(version="2", ago=timedelta(days=3))
    log(version="2", ago=timedelta(days=9))
    assert prediction_volume() == {
        "last_hour": {"1": 1},
        "last_day": {"1": 2},
        "last_7_days": {"1": 2, "2": 1},
    }


def test_live_metrics_score_the_labelled_predictions_of_one_version_in_the_window(db):
    LoggedVersion.objects.create(version="1", model_name="m", classes=CLASSES)
    right = [0.8, 0.1, 0.1]
    for _ in range(18):
        log(label="Adelie", proba=right)
    log(label="Gentoo", proba=[0.4, 0.1, 0.5])
    log(label="Chinstrap", proba=[0.4, 0.3, 0.3])
    log(label=None, proba=right)
    log(label="Gentoo", proba=right, ago=timedelta(days=2))
    log(version="2", label="Gentoo", proba=right)
    result = live_metrics("1", timezone.now() - timedelta(days=1))
    assert result["version"] == "1"
    assert result["labels"] == 20
    accuracy = result["metrics"]["accuracy"]
    assert accuracy["value"] == 0.9
    assert (accuracy["low"], accuracy["high"]) == pytest.approx(wilson(18, 20))
    assert set(result["metrics"]) == {"accuracy", "precision", "recall", "f1", "roc_auc"}
    since = timezone.now() - timedelta(days=1)
    for metric in result["metrics"]:  # one metric alone, from the counts where it can: the same figures
        assert live_metric("1", since, metric) == {"labels": 20, "metric": pytest.approx(result["metrics"][metric])}


def test_live_metrics_without_labels_say_so(db):
    log()
    assert live_metrics("1", timezone.now() - timedelta(days=1))["labels"] == 0
    assert live_metrics("1", timezone.now() - timedelta(days=1))["metrics"] == {}


def test_live_quality_is_scored_on_the_positive_class_the_deployment_recorded(db):
    """fraud/ok, one fraud in 20: a model that always says ok is 95% accurate and finds no fraud."""
    from predictor.models import Deployment

    Deployment.objects.create(
        model_name="m", version="1", source="pipeline", data_version={"positive_class": "fraud"}, metrics={"f1": 0.6}
    )
    LoggedVersion.objects.create(version="1", model_name="m", classes=["fraud", "ok"])
    for _ in range(19):
        log(prediction="ok", label="ok", proba=[0.1, 0.9])
    log(prediction="ok", label="fraud", proba=[0.4, 0.6])
    since = timezone.now() - timedelta(days=1)

    assert live_metric("1", since, "f1")["metric"]["value"] == 0.0
    assert live_metrics("1", since)["metrics"]["recall"]["value"] == 0.0
    # The fraud was scored below every ok: the AUC of the fraud class's probability is 1.
    assert live_metrics("1", since)["metrics"]["roc_auc"]["value"] == 1.0


def test_live_labels_and_predictions_are_one_class_whatever_their_type(db):
    """A version serving "0.0"/"1.0" (trained before labels were normalised), labelled 1 and 0:
    the same classes, and 1 is positive for 0/1 classes."""
    LoggedVersion.objects.create(version="1", model_name="m", classes=["0.0", "1.0"])
    for _ in range(9):
        log(prediction="0.0", label="0")
    log(prediction="1.0", label="1")
    log(prediction="0.0", label="1")
    since = timezone.now() - timedelta(days=1)

    assert live_metric("1", since, "accuracy")["metric"]["value"] == pytest.approx(10 / 11)
    assert live_metric("1", since, "recall")["metric"]["value"] == 0.5
