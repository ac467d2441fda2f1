"""A run cancelled while a real worker trains it stops at once, ends cancelled, and leaves the
champion and the worker as they were.

Runs on the suite's broker: the filesystem transport on the embedded defaults, Redis when
REDIS_URL is set (CI runs the suite both ways).
"""

import time

import pytest

from predictor.models import Deployment
from predictor.serving import registry
from retraining import services
from retraining.models import RetrainingRun
from retraining.runs import store
from tests.support.pipeline import publish_batch
from tests.support.workers import wait_until

pytestmark = pytest.mark.slow
Status = RetrainingRun.Status
# A fit of a minute or more: cancelling must not wait for it.
SLOW_PARAMS = {"n_estimators": 20000}
TOKEN = "cancel-in-training-token"


def test_a_run_cancelled_during_training_stops_at_once_and_the_champion_stays(
    weak_champion, start_pool_worker, settings, client, django_capture_on_commit_callbacks
):
    settings.RETRAIN_API_TOKEN = TOKEN
    champion = registry.champion_version()
    publish_batch(2)
    worker = start_pool_worker(SLOW_PARAMS)
    settings.TRAINING_PARAMS = SLOW_PARAMS
    with django_capture_on_commit_callbacks(execute=True):
        run, created = services.trigger_run(RetrainingRun.Trigger.API)
    assert created
    wait_until(lambda: RetrainingRun.objects.get(pk=run.pk).step == "train", 120, f"training ({worker.log})")
    time.sleep(1)
    pool_process = worker.pool_process()

    asked = time.monotonic()
    response = client.post(f"/api/v1/runs/{run.pk}/cancel", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 202
    wait_until(lambda: RetrainingRun.objects.get(pk=run.pk).finished, 30, f"the run to stop ({worker.log})")
    stopped_after = time.monotonic() - asked

    run.refresh_from_db()
    assert run.status == Status.CANCELLED
    assert stopped_after < 10, stopped_after
    assert ("train", "cancelled") in [(step["name"], step["status"]) for step in run.steps]
    assert run.reasons[0].startswith("cancelled by the API token at ")
    assert run.reasons[0].endswith("during step 'train'; nothing was deployed")
    assert run.model_version == ""
    assert Deployment.objects.first() == weak_champion
    assert registry.champion_version() == champion
    # The same pool process goes on, and the run blocks nothing.
    assert worker.pool_process().pid == pool_process.pid
    assert store.active_run() is None
    print(f"cancel asked -> run #{run.pk} cancelled in {stopped_after:.1f} s")
