"""What a serving process watches besides the newest deployment: a fresh version failing in
serving (rolled back once, whichever process sees it) and the champion alias moved by hand."""

from django.conf import settings as django_settings
from django.core import mail
from mlflow import MlflowClient

from predictor import services
from predictor.models import Deployment
from predictor.serving import guard
from predictor.serving.follower import follower
from predictor.serving.holder import holder
from tests.support.faulty import FAULTY, fail_on_small_batches
from tests.support.serving import deploy, log_faulty_version, register_broken_version


def test_a_version_that_cannot_load_is_rolled_back_in_the_bake_window(served, tmp_path, settings):
    settings.NOTIFY_EMAILS = ["ops@example.com"]
    broken = register_broken_version(tmp_path)
    failed = deploy(broken)
    follower().tick()
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
    settings.MODEL_TRUSTED_TYPES = [FAULTY]
    faulty = log_faulty_version(penguin_versions.frame, fail_on_small_batches)
    failed = deploy(faulty)
    holder().sync()
    assert holder().current.version == faulty
    row = {"instances": rows[:1]}
    statuses = {client.post("/api/v1/predict", row, content_type="application/json").status_code for _ in range(4)}
    assert statuses == {503}
    assert guard.rollback_if_failing(holder()) is not None
    # Every other process sees the same failure: the database lets only one of them act.
    assert guard.rollback_if_failing(holder()) is None
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
    assert guard.rollback_if_failing(holder()) is None
    counters.failures = 90
    settings.ROLLBACK_BAKE_WINDOW = 0
    assert guard.rollback_if_failing(holder()) is None


def test_an_alias_moved_by_hand_is_recorded_once_and_served(served, penguin_versions):
    MlflowClient().set_registered_model_alias(django_settings.MODEL_NAME, "champion", penguin_versions.second.version)
    # Seen once, confirmed by the next check.
    assert guard.record_alias_move() is None
    recorded = guard.record_alias_move()
    assert recorded is not None
    assert (recorded.source, recorded.version, recorded.previous_id) == ("registry", "2", served.pk)
    assert recorded.reason == "the champion alias was moved to version 2 in MLflow"
    assert recorded.data_version == {"md5": "abc123", "rev": "r1"}
    assert guard.record_alias_move() is None
    assert services.record_registry_move("2") is None
    assert Deployment.objects.filter(source=Deployment.Source.REGISTRY).count() == 1
    holder().sync()
    assert holder().current.version == "2"
