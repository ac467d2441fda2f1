"""A run trains the setup it was queued with, whoever executes it: a worker with other settings,
or a run queued again in its place after its process died or its worker was stopped.

Runs on the suite's broker: the filesystem transport on the embedded defaults, Redis when
REDIS_URL is set (CI runs the suite both ways).
"""

import json

import pytest

from ml import lineage
from predictor.serving import registry
from retraining import services
from retraining.models import RetrainingRun
from retraining.pipeline.resources import MlflowModels
from retraining.runs import store
from retraining.runs.setup import TrainingSetup
from tests.support.pipeline import publish_batch
from tests.support.workers import wait_until

Status = RetrainingRun.Status
# The starter's params: several seconds of fitting, long enough to be caught in the middle of it.
STARTER_PARAMS = {"n_estimators": 3000, "max_depth": 6}
# The worker's own settings: other params, another excluded column.
WORKER_PARAMS = {"n_estimators": 5, "max_depth": 2}


def test_a_run_stopped_with_its_worker_is_queued_again_with_its_own_setup(db, settings):
    settings.TRAINING_PARAMS = STARTER_PARAMS
    settings.EXCLUDE_COLUMNS = ["year"]
    run, _ = store.start_run(RetrainingRun.Trigger.API)
    assert store.claim(run.pk)
    store.finish(run, Status.FAILED, error="stopped", stopped_by_signal="SIGTERM")
    # The stopping worker, which queues it again, has settings of its own.
    settings.TRAINING_PARAMS = WORKER_PARAMS
    settings.EXCLUDE_COLUMNS = []

    [again] = services.requeue_stopped_runs()

    again = RetrainingRun.objects.get(pk=again)
    assert again.setup == run.setup
    assert again.params == STARTER_PARAMS
    assert TrainingSetup.deserialise(again.setup).exclude == ("year",)


@pytest.mark.slow
def test_a_run_requeued_by_a_worker_with_other_settings_trains_the_starters_setup(
    weak_champion, start_pool_worker, settings, django_capture_on_commit_callbacks
):
    publish_batch(2)
    worker = start_pool_worker(WORKER_PARAMS, EXCLUDE_COLUMNS="sex", RECENT_ROWS_SHARE="0.8")
    settings.TRAINING_PARAMS = STARTER_PARAMS
    settings.EXCLUDE_COLUMNS = ["year"]
    settings.RECENT_ROWS_SHARE = 0.3
    with django_capture_on_commit_callbacks(execute=True):
        doomed, created = services.trigger_run(RetrainingRun.Trigger.API)
    assert created
    wait_until(lambda: RetrainingRun.objects.get(pk=doomed.pk).step == "train", 120, f"training ({worker.log})")

    worker.kill_pool_process()  # the redelivery, in that worker, queues the run again
    wait_until(lambda: RetrainingRun.objects.get(pk=doomed.pk).requeued_as_id, 30, f"a requeue ({worker.log})")
    again = RetrainingRun.objects.get(pk=doomed.pk).requeued_as
    wait_until(lambda: RetrainingRun.objects.get(pk=again.pk).finished, 240, f"run #{again.pk} ({worker.log})")
    again.refresh_from_db()

    assert again.status in (Status.DEPLOYED, Status.KEPT), (again.status, again.error, again.reasons)
    assert again.setup == RetrainingRun.objects.get(pk=doomed.pk).setup
    logged = registry.model_version(again.model_version)
    assert logged.params["n_estimators"] == "3000"
    assert logged.params["max_depth"] == "6"
    assert logged.params["recent_rows_share"] == "0.3"
    assert TrainingSetup.deserialise(again.setup).recent_rows_share == 0.3
    made_from = lineage.recorded(MlflowModels(), again.model_version)
    assert "year" in made_from["excluded"]
    assert "sex" not in made_from["excluded"]
    assert logged.tags["retraining.setup_fingerprint"] == again.setup_fingerprint
    assert json.loads(registry.read_artifact(again.model_version, "training_setup.json"))["setup"] == again.setup
