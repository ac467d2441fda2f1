"""Deployments written by predictor/services.py, whatever moved the champion."""

from django.conf import settings as django_settings
from mlflow import MlflowClient

from predictor import registry, services
from predictor.models import Deployment
from retraining.steps.evaluate import evaluate
from retraining.steps.train import train
from tests.predictor.conftest import MODEL_SCORES, log_annotated_version


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
