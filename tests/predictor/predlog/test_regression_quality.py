"""Live quality of a regression: RMSE and MAE with intervals from sums, and a trigger that knows
an error worsens upwards."""

import time
from datetime import timedelta
from types import SimpleNamespace

import numpy as np
import pytest
from django.utils import timezone

from predictor import predlog
from predictor.models import Deployment, LoggedVersion, Prediction
from predictor.predlog import record_labels, writing
from predictor.predlog.ids import new_ids
from predictor.predlog.quality import score_sums
from retraining.models import TriggerSettings
from retraining.monitoring import triggers


def log_regression(truth: np.ndarray, predicted: np.ndarray, version: str = "3") -> None:
    Deployment.objects.create(
        model_name="houses", version=version, source="pipeline", metrics={"rmse": 10.0, "mae": 8.0},
        data_version={"task": "regression"},
    )  # fmt: skip
    LoggedVersion.objects.create(version=version, model_name="houses", classes=None)
    Prediction.objects.bulk_create(
        Prediction(
            id=i,
            created_at=timezone.now(),
            model_version=version,
            inputs={},
            prediction=repr(float(p)),
            prediction_value=float(p),
            label=repr(float(t)),
            label_value=float(t),
            labelled_at=timezone.now(),
        )
        for i, t, p in zip(new_ids(len(truth)), truth, predicted, strict=True)
    )


def test_live_rmse_and_mae_are_the_holdouts_figures_with_intervals(db):
    rng = np.random.default_rng(4)
    truth = rng.normal(200, 50, 400)
    predicted = truth + rng.normal(0, 12, 400)
    log_regression(truth, predicted)

    live = predlog.live_metrics("3", timezone.now() - timedelta(days=1))

    errors = predicted - truth
    assert live["labels"] == 400
    assert set(live["metrics"]) == {"rmse", "mae"}
    rmse, mae = live["metrics"]["rmse"], live["metrics"]["mae"]
    assert rmse["value"] == pytest.approx(np.sqrt(np.mean(errors**2)))
    assert mae["value"] == pytest.approx(np.mean(np.abs(errors)))
    assert rmse["low"] < rmse["value"] < rmse["high"]
    assert mae["low"] < mae["value"] < mae["high"]
    one = predlog.live_metric("3", timezone.now() - timedelta(days=1), "rmse")
    assert one == {"labels": 400, "metric": rmse}


def write_through_the_log(served: SimpleNamespace, predictions: list) -> list[str]:
    """Rows as the prediction-log writer builds and inserts them for one answered request."""
    ids = new_ids(len(predictions))
    columns = {"area": np.arange(len(predictions), dtype=float)}
    rows, _ = writing.Writer()._rows([(ids, time.time(), served, columns, predictions, None, None)])
    writing.insert(rows)
    return ids


def test_a_logged_regression_and_its_feedback_are_stored_as_numbers(db, settings):
    settings.PREDICTION_LOG_SAMPLE = 1.0
    settings.MODEL_NAME = "houses"
    Deployment.objects.create(model_name="houses", version="3", source="pipeline", data_version={"task": "regression"})
    rng = np.random.default_rng(7)
    predicted = rng.normal(200, 50, 60)
    served = SimpleNamespace(version="3", name="houses", classes=None, task="regression")
    ids = write_through_the_log(served, predicted.tolist())
    truth = predicted + rng.normal(0, 15, 60)
    labels: list = [float(t) for t in truth[:-1]] + [str(truth[-1])]  # a number as text is a number too

    record_labels([{"prediction_id": pid, "label": t} for pid, t in zip(ids, labels, strict=True)])

    rows = {str(r.id): r for r in Prediction.objects.all()}
    assert [rows[pid].prediction_value for pid in ids] == predicted.tolist()
    assert [rows[pid].label_value for pid in ids] == truth.tolist()
    from_text = np.array([float(rows[pid].label) - float(rows[pid].prediction) for pid in ids])
    live = predlog.live_metrics("3", timezone.now() - timedelta(days=1))["metrics"]
    assert live["rmse"]["value"] == pytest.approx(np.sqrt(np.mean(from_text**2)), rel=1e-12)
    assert live["mae"]["value"] == pytest.approx(np.mean(np.abs(from_text)), rel=1e-12)


def test_a_classification_logs_no_numbers_even_for_numeric_classes(db, settings):
    settings.PREDICTION_LOG_SAMPLE = 1.0
    LoggedVersion.objects.create(version="2", model_name="m", classes=["0", "1"])
    served = SimpleNamespace(version="2", name="m", classes=np.array(["0", "1"]), task="classification")
    ids = write_through_the_log(served, ["1", "0"])

    record_labels([{"prediction_id": pid, "label": 1} for pid in ids])

    assert list(Prediction.objects.values_list("prediction_value", "label_value", "label").distinct()) == [
        (None, None, "1")
    ]


def test_one_batch_of_a_classification_and_a_regression_writes_each_row_as_served(db, settings):
    settings.PREDICTION_LOG_SAMPLE = 1.0
    classifier = SimpleNamespace(version="2", name="m", classes=np.array(["0", "1"]), task="classification")
    regressor = SimpleNamespace(version="3", name="houses", classes=None, task="regression")
    requests = [(classifier, ["1", "0"]), (regressor, [12.5]), (classifier, ["0"])]
    entries = [
        (new_ids(len(answered)), time.time(), served, {"area": np.zeros(len(answered))}, answered, None, None)
        for served, answered in requests
    ]

    rows, _ = writing.Writer()._rows(entries)
    writing.insert(rows)

    logged = Prediction.objects.order_by("id").values_list("model_version", "prediction", "prediction_value")
    assert sorted(logged) == [("2", "0", None), ("2", "0", None), ("2", "1", None), ("3", "12.5", 12.5)]


def test_the_rmse_interval_covers_the_true_error_about_95_percent_of_the_time():
    rng = np.random.default_rng(5)
    covered = 0
    for _ in range(400):
        errors = rng.normal(0, 10, 300)
        sums = {"n": 300, "squared": np.sum(errors**2), "absolute": np.sum(np.abs(errors)), "fourth": np.sum(errors**4)}
        rmse = score_sums(sums)["metrics"]["rmse"]
        covered += rmse["low"] <= 10 <= rmse["high"]
    assert 0.92 <= covered / 400 <= 0.98


def test_a_regression_degrades_when_its_live_error_rises_significantly(db):
    rng = np.random.default_rng(6)
    truth = rng.normal(200, 50, 300)
    log_regression(truth, truth + rng.normal(0, 20, 300))  # twice the holdout's RMSE of 10
    settings = TriggerSettings.current()

    quality = triggers.judge_quality("3", settings, timezone.now())

    assert quality.metric == "rmse"
    assert quality.fell
    assert triggers._short("degradation", quality.as_dict()).startswith("live rmse rose to")
    assert not triggers.fell({"value": 10.1, "low": 9.5, "high": 10.7}, 10.0, 0.02, higher_is_better=False)
    assert triggers.fell({"value": 12.0, "low": 11.0, "high": 13.0}, 10.0, 0.02, higher_is_better=False)
