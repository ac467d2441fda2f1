"""Deployments written by predictor/services.py, whatever moved the champion."""

from django.conf import settings as django_settings
from mlflow import MlflowClient

from predictor import registry, services
from predictor.models import Deployment
from retraining.steps.evaluate import evaluate
from retraining.steps.train import prepare_features, train

MODEL_SCORES = {"accuracy": 0.97, "precision": 0.96, "recall": 0.95, "f1": 0.955, "roc_auc": 0.99}
# What the pipeline adds to a training run after logging it: timings, the champion's scores, tests.
BOOKKEEPING = {
    "seconds_check": 0.02,
    "seconds_train": 1.4,
    "champion_accuracy": 0.91,
    "previous_champion_accuracy": 0.9,
    "mcnemar_p_value": 0.03,
    "rows_train": 206.0,
    "rows_holdout": 69.0,
}


def log_annotated_version(frame) -> str:
    model = train(frame, "species", "random_forest", {"n_estimators": 5}, 42)
    features = prepare_features(frame, "species")
    logged = registry.log_model(
        model,
        params={"n_estimators": 5},
        metrics={**MODEL_SCORES, "rows_train": 206, "rows_holdout": 69},
        tags={"data.md5": "abc123"},
        signature_input=features,
        input_example=features.head(5),
        run_name="test",
    )
    registry.annotate_run(logged.run_id, tags={"decision.rule": "min_improvement"}, metrics=BOOKKEEPING)
    return logged.version


def test_an_alias_moved_by_hand_records_only_the_models_own_metrics(db, model_name, penguin_versions):
    version = log_annotated_version(penguin_versions.frame)
    MlflowClient().set_registered_model_alias(django_settings.MODEL_NAME, "champion", version)

    recorded = services.record_registry_move(version)

    assert recorded is not None
    assert recorded.source == Deployment.Source.REGISTRY
    assert recorded.metrics == MODEL_SCORES


def test_the_model_metrics_are_the_ones_the_pipeline_scores(penguin_versions):
    frame = penguin_versions.frame
    model = train(frame, "species", "random_forest", {"n_estimators": 5}, 42)
    assert set(evaluate(model, frame, "species").metrics) == set(registry.MODEL_METRICS)
