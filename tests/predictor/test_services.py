"""Changing what is served: the only writer of Deployment rows, alias first, row second."""

import pytest
from mlflow import MlflowClient

from predictor import services
from predictor.models import Deployment
from predictor.serving import registry
from tests.support.serving import MODEL_SCORES, log_annotated_version


def champion_alias(name: str) -> str:
    return str(MlflowClient().get_model_version_by_alias(name, "champion").version)


def test_a_deployment_moves_the_alias_and_records_what_it_replaced(served, penguin_versions, staff_user):
    deployment = services.deploy(
        penguin_versions.second.version,
        source=Deployment.Source.PIPELINE,
        reason="better",
        user=staff_user,
        metrics={"accuracy": 0.95},
    )

    assert services.active_deployment() == deployment
    assert (deployment.version, deployment.previous, deployment.created_by) == ("2", served, staff_user)
    assert deployment.metrics == {"accuracy": 0.95}
    assert champion_alias(penguin_versions.name) == "2"


def test_a_version_mlflow_does_not_know_changes_nothing(served, penguin_versions):
    with pytest.raises(registry.RegistryError, match="could not move the champion alias to 99"):
        services.deploy("99", source=Deployment.Source.PIPELINE)

    assert services.active_deployment() == served
    assert champion_alias(penguin_versions.name) == "1"


def test_a_rollback_serves_the_earlier_version_again_as_a_new_deployment(served, penguin_versions, staff_user):
    services.deploy(penguin_versions.second.version, source=Deployment.Source.PIPELINE)

    rollback = services.rollback_to(served, user=staff_user)

    assert (rollback.version, rollback.source, rollback.created_by) == ("1", Deployment.Source.ROLLBACK, staff_user)
    assert rollback.reason == f"rolled back to version 1 (deployment #{served.pk})"
    assert champion_alias(penguin_versions.name) == "1"


def test_an_automatic_rollback_is_written_once_and_not_over_a_newer_deployment(served, penguin_versions):
    failing = services.deploy(penguin_versions.second.version, source=Deployment.Source.PIPELINE)

    first = services.auto_rollback(failing, "every request failed")

    assert first is not None
    assert (first.version, first.source, first.previous) == ("1", Deployment.Source.AUTO_ROLLBACK, failing)
    assert services.auto_rollback(failing, "seen again") is None
    assert Deployment.objects.filter(source=Deployment.Source.AUTO_ROLLBACK).count() == 1


def test_an_alias_moved_by_hand_records_only_the_models_own_metrics(db, model_name, penguin_versions):
    version = log_annotated_version(penguin_versions.frame)
    MlflowClient().set_registered_model_alias(model_name, "champion", version)

    recorded = services.record_registry_move(version)

    assert recorded is not None
    assert recorded.source == Deployment.Source.REGISTRY
    assert recorded.metrics == MODEL_SCORES


def test_a_deployment_records_its_data_source_and_reason_without_credentials(db, model_name):
    deployment = services.deploy(
        "1",
        source=Deployment.Source.PIPELINE,
        reason="trained on https://user:tok3n-secret@git.example/r.git",
        data_version={"source": "https://user:tok3n-secret@git.example/r.git", "md5": "0123abcd"},
        move_alias=False,
    )

    stored = Deployment.objects.values_list("reason", "data_version").get(pk=deployment.pk)
    assert stored == (
        "trained on https://***@git.example/r.git",
        {"source": "https://***@git.example/r.git", "md5": "0123abcd"},
    )
