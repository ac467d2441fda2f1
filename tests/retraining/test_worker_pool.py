"""The worker as the Procfile runs it (prefork, one pool process), its pool process SIGKILLed.

Runs on the suite's broker: the filesystem transport on the embedded defaults, Redis when
REDIS_URL is set (CI runs the suite both ways).
"""

import time
from pathlib import Path

import pytest

from retraining import services
from retraining.models import RetrainingRun
from tests.support.pipeline import GOOD_PARAMS, publish_batch
from tests.support.workers import PoolWorker, wait_until

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
Status = RetrainingRun.Status
# Several seconds of fitting: long enough to be caught in the middle of it.
SLOW_PARAMS = {"n_estimators": 3000}


def trigger(django_capture_on_commit_callbacks) -> RetrainingRun:
    with django_capture_on_commit_callbacks(execute=True):
        run, created = services.trigger_run(RetrainingRun.Trigger.API)
    assert created, f"run #{run.pk} was still {run.status}"
    return run


def finished(run: RetrainingRun, worker: PoolWorker, seconds: float = 180) -> RetrainingRun:
    wait_until(
        lambda: RetrainingRun.objects.get(pk=run.pk).finished,
        seconds,
        f"the worker to finish run #{run.pk} (log: {worker.log})",
    )
    run.refresh_from_db()
    return run


def test_it_goes_on_consuming_after_its_idle_pool_process_is_killed(
    weak_champion, start_pool_worker, django_capture_on_commit_callbacks
):
    publish_batch(2)
    worker = start_pool_worker(GOOD_PARAMS)
    worker.kill_pool_process()

    run = finished(trigger(django_capture_on_commit_callbacks), worker, 120)

    assert run.status == Status.DEPLOYED, (run.error, run.reasons)


def test_it_goes_on_consuming_after_its_pool_process_is_killed_mid_run(
    weak_champion, start_pool_worker, settings, django_capture_on_commit_callbacks
):
    """The killed run waits for the stale-run sweep (5 s here); the same worker runs the next one."""
    settings.RUN_HEARTBEAT_TIMEOUT = 5
    publish_batch(2)
    worker = start_pool_worker(SLOW_PARAMS)
    doomed = trigger(django_capture_on_commit_callbacks)
    wait_until(
        lambda: RetrainingRun.objects.get(pk=doomed.pk).step == "train", 120, f"training to start ({worker.log})"
    )
    worker.kill_pool_process()
    time.sleep(settings.RUN_HEARTBEAT_TIMEOUT + 1)

    following = finished(trigger(django_capture_on_commit_callbacks), worker)

    doomed.refresh_from_db()
    assert doomed.status == Status.FAILED
    assert following.status == Status.DEPLOYED, (following.error, following.reasons)
