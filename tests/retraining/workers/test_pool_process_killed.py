"""The worker as the Procfile runs it (prefork, one pool process), its pool process SIGKILLed.

Runs on the suite's broker: the filesystem transport on the embedded defaults, Redis when
REDIS_URL is set (CI runs the suite both ways). On both, the worker's main process sees the
pool process die, closes and requeues its run, and gives the unacknowledged message back to the
broker at once (acks late, reject on worker lost): Redis's visibility timeout only matters when
the main process dies too.
"""

import time
from pathlib import Path

import pytest

from retraining import services
from retraining.models import RetrainingRun
from tests.support.pipeline import GOOD_PARAMS, publish_batch
from tests.support.workers import PoolWorker, wait_until

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[3]
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


def test_a_run_whose_pool_process_is_killed_is_closed_and_queued_again_at_once(
    weak_champion, start_pool_worker, settings, django_capture_on_commit_callbacks
):
    """The worker's main process sees the process gone (WORKER_LOST_WAIT, 2 s; on Redis the
    asynchronous pool sees it within a second), closes the run and queues it again, then gives the
    message back. The stale-heartbeat sweep (120 s here, and it only runs when beat or a trigger
    calls it) plays no part."""
    publish_batch(2)
    worker = start_pool_worker(SLOW_PARAMS, RUN_HEARTBEAT_TIMEOUT=str(settings.RUN_HEARTBEAT_TIMEOUT))
    doomed = trigger(django_capture_on_commit_callbacks)
    wait_until(
        lambda: RetrainingRun.objects.get(pk=doomed.pk).step == "train", 120, f"training to start ({worker.log})"
    )
    owner = RetrainingRun.objects.get(pk=doomed.pk).owner
    assert owner["pid"] == worker.pool_process().pid

    killed = time.monotonic()
    worker.kill_pool_process()
    wait_until(
        lambda: RetrainingRun.objects.get(pk=doomed.pk).requeued_as_id, 30, f"the run to be requeued ({worker.log})"
    )
    requeued_after = time.monotonic() - killed

    doomed.refresh_from_db()
    assert doomed.status == Status.FAILED
    assert f"the process that ran it (pid {owner['pid']} on " in doomed.error
    assert "died during step 'train'" in doomed.error
    assert requeued_after < 15, requeued_after
    # By the worker that lost the process, before it gave the message back: wherever the broker
    # delivers that message next, perhaps to a worker on another machine, it finds the run closed.
    assert f"/MainProcess] run #{doomed.pk}: the process that ran it" in worker.log.read_text()
    print(f"pool process killed -> run #{doomed.pk} closed and requeued in {requeued_after:.1f} s")
    again = finished(doomed.requeued_as, worker)
    assert again.status == Status.DEPLOYED, (again.error, again.reasons)
    assert again.trigger == doomed.trigger
