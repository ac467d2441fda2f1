"""A champion whose training rows are unknown (registered by hand in MLflow) is compared only on
rows it can be proved never to have seen: rows first published after it was registered."""

import time

import numpy as np
import pytest
from django.conf import settings
from django.utils.html import escape

from demo import batches
from ml.estimators import train
from ml.features import prepare_features
from ml.keys import row_keys
from ml.split import holdout_mask, split_key
from predictor import services
from predictor.models import Deployment
from predictor.serving import registry
from predictor.serving.packaging import pip_requirements, signature_rows, skops_trusted_types
from retraining.models import RetrainingRun
from tests.support.pipeline import GOOD_PARAMS, publish_batch, run_pipeline

Status = RetrainingRun.Status


def register_by_hand(frame) -> str:
    """What a person does outside the product: fit a model on these rows, log and register it with
    MLflow itself (no training-row keys, no lineage), and move the champion alias to it."""
    import mlflow
    from mlflow.models import infer_signature

    model = train(frame, "species", "random_forest", GOOD_PARAMS, seed=7)
    features = prepare_features(frame, "species", [])
    mlflow.set_tracking_uri(settings.MLFLOW_TRACKING_URI)
    mlflow.set_registry_uri(settings.MLFLOW_REGISTRY_URI)
    with mlflow.start_run():
        info = mlflow.sklearn.log_model(
            model,
            name="model",
            signature=infer_signature(signature_rows(features), model.predict(features.head(5))),
            input_example=features.head(5),
            registered_model_name=settings.MODEL_NAME,
            skops_trusted_types=skops_trusted_types(model),
            pip_requirements=pip_requirements(),
        )
    version = str(info.registered_model_version)
    registry.set_champion(version)
    assert services.record_registry_move(version).source == Deployment.Source.REGISTRY
    return version


def published_after_registration() -> None:
    """Git records a commit's time to the second: the next version is published in a later second."""
    time.sleep(1.1)


@pytest.fixture
def hand_registered(transactional_db, demo_registry, model_name, served_model):
    """Batch 2 published, then a champion registered by hand that trained on all of it, holdout rows included."""
    publish_batch(2)
    return register_by_hand(batches.demo_frame(2))


def test_with_no_row_published_after_it_the_unknown_champion_is_kept_and_the_run_says_why(
    hand_registered, client, staff_user
):
    run = run_pipeline()

    assert run.status == Status.KEPT, (run.error, run.reasons)
    assert run.decision_rule == "too_few_clean_rows"
    assert Deployment.objects.first().version == hand_registered
    first = run.reasons[0]
    assert f"champion v{hand_registered}'s training rows unknown" in first
    assert f"0 of the {run.rows['holdout']} holdout rows were first published after it was registered" in first
    assert f"MIN_CLEAN_HOLDOUT_ROWS={settings.MIN_CLEAN_HOLDOUT_ROWS}" in first
    assert not any("no compared model was trained on" in reason for reason in run.reasons)
    assert run.holdout_exclusion["clean"] == 0
    # The same words in the run API and on the panel.
    client.force_login(staff_user)
    answer = client.get(f"/api/v1/runs/{run.pk}").json()
    assert answer["reasons"][0] == first
    assert f"or may have (champion v{hand_registered}: training rows unknown)" in answer["holdout"][0]
    assert escape(first) in client.get(f"/panel/runs/{run.pk}/").content.decode()


def test_rows_published_after_it_was_registered_are_the_only_ones_it_is_compared_on(hand_registered, settings):
    settings.MIN_CLEAN_HOLDOUT_ROWS = 10
    published_after_registration()
    publish_batch(3)

    run = run_pipeline()

    assert run.status in (Status.KEPT, Status.DEPLOYED), (run.error, run.reasons)
    assert run.champion_version == hand_registered
    third, before = batches.demo_frame(3), batches.demo_frame(2)
    key = split_key(third, "species")
    held_out = holdout_mask(third, settings.HOLDOUT_FRACTION, key)
    new = ~np.isin(row_keys(third, key), row_keys(before, key))
    expected = int((held_out & new).sum())
    assert 10 <= expected < int(held_out.sum())
    assert run.holdout_exclusion["clean"] == expected
    assert run.comparison["rows"] == expected
    assert run.holdout_exclusion["excluded"][f"champion v{hand_registered}"] == int(held_out.sum()) - expected
    assert any(
        f"champion v{hand_registered}'s training rows unknown" in reason
        and f"{expected} of the {int(held_out.sum())} holdout rows were first published after it was registered"
        in reason
        for reason in run.reasons
    ), run.reasons


def test_too_few_rows_published_after_it_keep_the_unknown_champion(hand_registered, settings):
    settings.MIN_CLEAN_HOLDOUT_ROWS = 1_000
    published_after_registration()
    publish_batch(3)

    run = run_pipeline()

    assert run.status == Status.KEPT, (run.error, run.reasons)
    assert run.decision_rule == "too_few_clean_rows"
    assert "fewer than MIN_CLEAN_HOLDOUT_ROWS=1000" in run.reasons[0]
    assert Deployment.objects.first().version == hand_registered
