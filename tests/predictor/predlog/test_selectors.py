from datetime import timedelta

import pytest
from django.utils import timezone

from predictor.models import LoggedVersion, Prediction
from predictor.predlog import live_metric, live_metrics, logged_inputs, prediction_volume
from predictor.predlog.ids import new_ids
from predictor.predlog.quality import wilson

CLASSES = ["Adelie", "Chinstrap", "Gentoo"]


def log(version="1", *, ago=timedelta(minutes=5), prediction="Adelie", label=None, inputs=None, proba=None):
    (pid,) = new_ids(1)
    return Prediction.objects.create(
        id=pid,
        created_at=timezone.now() - ago,
        model_version=version,
        inputs=inputs or {"island": "Biscoe", "body_mass_g": 4000.0},
        prediction=prediction,
        probabilities=proba,
        label=label,
    )


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
