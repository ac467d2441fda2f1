"""Numeric targets through the pipeline: the task inferred and said, trained and judged as a
regression, and a champion of another task left in place."""

import json
from datetime import timedelta

import numpy as np
import pytest
from django.utils import timezone

from demo import datasets
from predictor import predlog
from predictor.serving.holder import holder
from retraining.models import RetrainingRun
from retraining.runs.setup import TrainingSetup
from tests.support.in_memory import memory_resources, run_in_memory
from tests.support.pipeline import GOOD_PARAMS, WEAK_PARAMS, publish_frame, run_pipeline
from tests.support.predlog import predict


@pytest.fixture
def priced(settings):
    settings.TARGET_COLUMN = "price"
    settings.DATA_ID_COLUMN = ""
    settings.TASK = ""
    return settings


def houses(rows: int = 1200, seed: int = 5):
    return datasets.houses(rows, seed)


def test_a_float_target_is_learnt_as_a_regression_and_the_run_says_why(priced):
    resources = memory_resources(houses())

    state = run_in_memory(resources, GOOD_PARAMS)

    assert state.status == "deployed", state.reasons
    assert state.task.task.name == "regression"
    assert "non-integer" in state.task.reason
    assert state.reading["task"]["name"] == "regression"
    assert set(state.challenger.score.metrics) == {"rmse", "mae", "r2"}
    assert state.challenger.score.metrics["r2"] > 0.5
    assert "better than always answering the mean" in state.reasons[0]
    assert resources.deployments.served[-1].data_version["task"] == "regression"
    assert resources.models.tags[state.challenger.version]["data.task"] == "regression"
    # Served numbers, not classes.
    model = resources.models.models[state.challenger.version]
    assert not hasattr(model, "predict_proba")


def test_price_in_thousands_is_a_classification_with_a_warning_naming_task_regression(priced):
    frame = houses()
    frame["price"] = (frame["price"] * 1000) // 30_000
    assert 10 <= frame["price"].nunique() <= 50

    state = run_in_memory(memory_resources(frame), GOOD_PARAMS)

    assert state.task.task.name == "classification"
    warnings = state.validation.warnings
    assert any("TASK=regression" in w and "'price'" in w for w in warnings), warnings
    assert state.reading["task"]["warning"] in warnings


def test_declared_regression_on_whole_numbers_and_max_classes_only_for_classification(priced):
    frame = houses()
    frame["price"] = frame["price"].round().astype(int)  # hundreds of whole values
    priced.TASK = "regression"

    state = run_in_memory(memory_resources(frame), GOOD_PARAMS)

    assert state.status == "deployed", state.reasons
    assert state.task.reason == "declared by TASK=regression"
    priced.TASK = "classification"
    refused = run_in_memory(memory_resources(frame), GOOD_PARAMS)
    assert refused.status == "rejected"
    assert "more than MAX_CLASSES=50" in refused.reasons[0]


def test_a_task_change_between_champion_and_data_fails_the_run_and_the_champion_stays(priced):
    frame = houses()
    coarse = frame.assign(price=(frame["price"] // 100).clip(upper=4).astype(int))
    resources = memory_resources(coarse)
    first = run_in_memory(resources, GOOD_PARAMS)
    assert first.status == "deployed"
    assert first.task.task.name == "classification"

    resources.source.frame = frame  # the same houses, priced to the cent
    state = run_in_memory(resources, GOOD_PARAMS)

    assert state.status == "failed"
    assert state.challenger is None
    assert "the data's task is regression" in state.reasons[0]
    assert f"champion v{first.challenger.version} is a classification model" in state.reasons[0]
    assert "TASK=classification" in state.reasons[0]
    assert [c.version for c in resources.deployments.served] == [first.challenger.version]


def test_a_better_regressor_is_deployed_and_an_equal_one_is_kept_by_the_gate(priced):
    resources = memory_resources(houses(2000))
    weak = run_in_memory(resources, WEAK_PARAMS)
    assert weak.status == "deployed", weak.reasons

    resources.source.frame = houses(2001)
    better = run_in_memory(resources, GOOD_PARAMS)

    assert better.status == "deployed", better.reasons
    comparison = better.verdict.paired
    assert comparison.metric == "rmse"
    assert comparison.difference < 0
    assert "squared errors" in comparison.p_method
    assert any("rmse: challenger" in r and "passed" in r for r in better.reasons)

    resources.source.frame = houses(2002)
    same = run_in_memory(resources, GOOD_PARAMS)
    assert same.status == "kept", same.reasons


def test_the_task_is_fingerprinted_only_when_declared(priced):
    inferred = TrainingSetup.from_settings()
    priced.TASK = "regression"
    declared = TrainingSetup.from_settings()

    assert inferred.task == ""
    assert inferred.fingerprint != declared.fingerprint
    assert inferred.differences(declared) == ["task"]
    assert TrainingSetup.deserialise(declared.serialise()).task == "regression"


def test_a_regression_registry_bootstraps_and_retrains_through_mlflow_and_dvc(
    prediction_log, demo_registry, model_name, served_model, settings, client, staff_user
):
    settings.DEMO_DATASET, settings.TARGET_COLUMN, settings.TASK = "houses", "price", ""
    settings.TRAINING_PARAMS = WEAK_PARAMS
    publish_frame(datasets.batch("houses", 1).head(400))
    first = run_pipeline(RetrainingRun.Trigger.BOOTSTRAP)
    assert first.status == RetrainingRun.Status.DEPLOYED, (first.error, first.reasons)
    assert first.lineage["task"]["name"] == "regression"
    assert set(first.challenger_metrics) == {"rmse", "mae", "r2"}

    settings.TRAINING_PARAMS = GOOD_PARAMS
    publish_frame(datasets.batch("houses", 2))
    second = run_pipeline()

    assert second.status == RetrainingRun.Status.DEPLOYED, (second.error, second.reasons)
    assert second.comparison["metric"] == "rmse"
    assert second.challenger_metrics["rmse"] < second.champion_metrics["rmse"]
    assert np.isfinite(second.challenger_metrics["rmse"])

    # The panel shows the regression's runs and what is served without failing on them.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    client.force_login(staff_user)
    for page in ("", "runs/", f"runs/{second.pk}/", "monitoring/", "live.json", "chart.json", "deployments/"):
        response = client.get(f"/panel/{page}")
        assert response.status_code == 200, (page, response.content[:300])
    assert b"rmse" in client.get(f"/panel/runs/{second.pk}/").content
    chart = client.get("/panel/chart.json").json()
    assert chart["metrics"][:3] == ["rmse", "mae", "r2"]
    assert chart["lower_is_better"] == ["mae", "rmse"]
    served = client.get("/panel/live.json").json()["served"]
    assert set(served["metrics"]) == {"rmse", "mae", "r2"}

    # Served as numbers, logged, given numeric feedback, watched as live RMSE on the Monitoring page.
    holder().sync()
    frame = datasets.houses(60, seed=77)
    rows = [{k: v for k, v in row.items() if k != "price"} for row in frame.to_dict("records")]
    ids = predict(client, rows)
    assert prediction_log.flush(timeout=30)
    feedback = [{"prediction_id": i, "label": float(p)} for i, p in zip(ids, frame["price"], strict=True)]
    response = client.post("/api/v1/feedback", json.dumps({"feedback": feedback}), content_type="application/json")
    assert response.json() == {"recorded": 60}
    refused = client.post(
        "/api/v1/feedback", json.dumps({"prediction_id": ids[0], "label": "dear"}), content_type="application/json"
    )
    assert refused.status_code == 400
    page = client.get("/panel/monitoring/")
    assert page.status_code == 200
    live = predlog.live_metrics(second.model_version, timezone.now() - timedelta(days=1))
    assert live["labels"] == 60
    assert live["metrics"]["rmse"]["low"] < live["metrics"]["rmse"]["value"] < live["metrics"]["rmse"]["high"]
    assert f"{live['metrics']['rmse']['value']:.3f}".encode() in page.content


def test_a_policy_on_mae_judges_a_regression_on_absolute_errors(priced):
    from retraining.models import PromotionPolicy

    assert PromotionPolicy.Metric.MAE == "mae"
    resources = memory_resources(houses(2000))
    assert run_in_memory(resources, WEAK_PARAMS, primary_metric="mae").status == "deployed"

    resources.source.frame = houses(2001)
    state = run_in_memory(resources, GOOD_PARAMS, primary_metric="mae")

    assert state.verdict.paired.metric == "mae"
    assert state.verdict.paired.p_method == "paired t-test on per-row absolute errors"
    assert any(r.startswith("mae: challenger") for r in state.reasons)
