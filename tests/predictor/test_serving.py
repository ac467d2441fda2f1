"""How a serving process follows deployments, refuses bad versions and rolls back (in-process;
the same under real gunicorn workers is in test_hot_swap.py)."""

import time

import pandas as pd
from django.conf import settings as django_settings
from django.core import mail
from mlflow import MlflowClient

from predictor import services, watch
from predictor.models import Deployment, ServingProcess
from predictor.serving import holder
from tests.support.faulty import fail_on_small_batches
from tests.support.serving import log_faulty_version, register_broken_version


def deploy(version, source=Deployment.Source.PIPELINE):
    return services.deploy(version, source=source, reason="test")


def test_a_new_deployment_is_swapped_in_and_the_old_model_still_answers(served, penguin_versions, rows):
    before = holder().current
    deploy(penguin_versions.second.version)
    assert holder().sync() is True
    assert holder().current.version == "2"
    # A request that started before the swap holds the old model and finishes on it.
    assert len(before.model.predict_proba(pd.DataFrame(rows))) == 3
    assert before.version == "1"


def test_a_version_that_fails_to_load_is_never_swapped_in(client, served, tmp_path, settings, rows):
    settings.ROLLBACK_BAKE_WINDOW = 0
    broken = register_broken_version(tmp_path)
    deploy(broken)
    holder().tick()
    assert holder().current.version == "1"
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "failing"
    assert body["version"] == "1"
    assert body["error"].startswith(f"version {broken} was not swapped in: could not load")
    process = ServingProcess.objects.get(name=holder().process_name)
    assert (process.version, process.failed_version) == ("1", broken)
    assert process.error == body["error"]
    assert client.post("/api/v1/predict", {"instances": rows}, content_type="application/json").status_code == 200
    assert Deployment.objects.filter(source=Deployment.Source.AUTO_ROLLBACK).count() == 0


def test_a_version_that_cannot_load_is_rolled_back_in_the_bake_window(served, tmp_path, settings):
    settings.NOTIFY_EMAILS = ["ops@example.com"]
    broken = register_broken_version(tmp_path)
    failed = deploy(broken)
    holder().tick()
    rollback = services.active_deployment()
    assert rollback.source == Deployment.Source.AUTO_ROLLBACK
    assert rollback.version == "1"
    assert rollback.previous_id == failed.pk
    assert rollback.reason.startswith(f"version {broken} failed in serving: serving process ")
    assert "could not load" in rollback.reason
    assert str(MlflowClient().get_model_version_by_alias(settings.MODEL_NAME, "champion").version) == "1"
    assert holder().current.version == "1"
    assert holder().error == ""
    assert [m.subject for m in mail.outbox] == [f"[serving] version {broken} rolled back automatically to 1"]
    assert rollback.reason in mail.outbox[0].body


def test_a_version_failing_its_predictions_is_rolled_back_exactly_once(
    client, served, penguin_versions, settings, rows
):
    settings.ROLLBACK_MIN_REQUESTS = 4
    faulty = log_faulty_version(penguin_versions.frame, fail_on_small_batches)
    failed = deploy(faulty)
    holder().sync()
    assert holder().current.version == faulty
    row = {"instances": rows[:1]}
    statuses = {client.post("/api/v1/predict", row, content_type="application/json").status_code for _ in range(4)}
    assert statuses == {503}
    assert watch.rollback_if_failing(holder()) is not None
    # Every other process sees the same failure: the database lets only one of them act.
    assert watch.rollback_if_failing(holder()) is None
    assert services.auto_rollback(failed, "seen by another process") is None
    rollbacks = Deployment.objects.filter(source=Deployment.Source.AUTO_ROLLBACK)
    assert rollbacks.count() == 1
    assert rollbacks.get().version == "1"
    assert "4 of 4 prediction requests failed" in rollbacks.get().reason


def test_no_rollback_below_the_failure_share_or_after_the_bake_window(served, penguin_versions, settings):
    deploy(penguin_versions.second.version)
    holder().sync()
    counters = holder().current.counters
    counters.predictions, counters.failures = 100, 10
    assert watch.rollback_if_failing(holder()) is None
    counters.failures = 90
    settings.ROLLBACK_BAKE_WINDOW = 0
    assert watch.rollback_if_failing(holder()) is None


def test_an_alias_moved_by_hand_is_recorded_once_and_served(served, penguin_versions):
    MlflowClient().set_registered_model_alias(django_settings.MODEL_NAME, "champion", penguin_versions.second.version)
    # Seen once, confirmed by the next check.
    assert watch.record_alias_move() is None
    recorded = watch.record_alias_move()
    assert recorded is not None
    assert (recorded.source, recorded.version, recorded.previous_id) == ("registry", "2", served.pk)
    assert recorded.reason == "the champion alias was moved to version 2 in MLflow"
    assert recorded.data_version == {"md5": "abc123", "rev": "r1"}
    assert watch.record_alias_move() is None
    assert services.record_registry_move("2") is None
    assert Deployment.objects.filter(source=Deployment.Source.REGISTRY).count() == 1
    holder().sync()
    assert holder().current.version == "2"


def test_a_rollback_to_the_version_already_served_swaps_nothing(served, penguin_versions):
    first = holder().current
    services.rollback_to(served, user=None)
    assert holder().sync() is False
    assert holder().current.model is first.model
    assert holder().current.deployment_id == services.active_deployment().pk


def test_the_follower_thread_notices_a_deployment_within_the_poll_interval(
    transactional_db, settings, penguin_versions, follower_off
):
    poll = 0.5
    settings.MODEL_NAME = penguin_versions.name
    settings.MODEL_POLL_INTERVAL = poll
    deploy(penguin_versions.first.version, source=Deployment.Source.BOOTSTRAP)
    models = holder()
    models.autostart = True
    try:
        models.ensure_started()
        deadline = time.monotonic() + 30
        while (models.current is None or models.current.version != "1") and time.monotonic() < deadline:
            time.sleep(0.05)
        assert models.current.version == "1"
        deploy(penguin_versions.second.version)
        switched_by = time.monotonic() + poll + 10
        while models.current.version != "2" and time.monotonic() < switched_by:
            time.sleep(0.05)
        assert models.current.version == "2"
    finally:
        models.stop()
        models.autostart = False
