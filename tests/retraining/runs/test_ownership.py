"""A redelivered run whose process died is closed and queued again at once; a live owner is left alone."""

from datetime import timedelta

import psutil
from django.utils import timezone

from retraining import services, tasks
from retraining.models import RetrainingRun, WorkerHeartbeat
from retraining.runs import ownership, store

Status = RetrainingRun.Status


def running_run(owner: dict) -> RetrainingRun:
    run, _ = store.start_run(RetrainingRun.Trigger.API)
    assert store.claim(run.pk, {**ownership.here("pool-test@host"), **owner})
    RetrainingRun.objects.filter(pk=run.pk).update(step="train")
    return RetrainingRun.objects.get(pk=run.pk)


def test_a_redelivery_while_the_owner_is_alive_does_nothing(db):
    run = running_run({})

    assert tasks.retrain.apply(args=[run.pk]).get() == Status.RUNNING

    run.refresh_from_db()
    assert run.status == Status.RUNNING
    assert run.active
    assert RetrainingRun.objects.count() == 1


def test_a_redelivery_whose_owner_died_closes_the_run_and_queues_it_again(db, dead_process):
    run = running_run(dead_process)

    result = tasks.retrain.apply(args=[run.pk]).get()

    run.refresh_from_db()
    again = run.requeued_as
    assert result == f"requeued:{again.pk}"
    assert run.status == Status.FAILED
    assert run.finished
    assert run.error.startswith(f"the process that ran it (pid {dead_process['pid']} on ")
    assert "died during step 'train'; nothing was deployed" in run.error
    assert run.reasons == [f"queued again as run #{again.pk}"]
    assert (again.status, again.trigger) == (Status.QUEUED, run.trigger)
    # A second redelivery of the same message finds nothing more to do.
    assert tasks.retrain.apply(args=[run.pk]).get() == Status.FAILED
    assert RetrainingRun.objects.count() == 2


def test_a_pid_taken_by_another_process_is_not_the_owner(db):
    run = running_run({"process_started": psutil.Process().create_time() - 60})

    assert "died during step 'train'" in ownership.lost(run)


def test_an_owner_on_another_machine_is_judged_by_its_workers_heartbeat(db):
    now = timezone.now()
    run = running_run({"host": "elsewhere", "worker": "w@elsewhere"})
    heartbeat = WorkerHeartbeat.objects.create(
        hostname="w@elsewhere", pid=1, started_at=now - timedelta(hours=1), seen_at=now
    )

    assert ownership.lost(run) == ""

    heartbeat.seen_at = now - timedelta(minutes=5)
    heartbeat.save()
    assert "its worker has not reported for 300 s" in ownership.lost(run, now)

    heartbeat.seen_at, heartbeat.started_at = now, now + timedelta(seconds=1)
    heartbeat.save()
    assert "its worker was started again since" in ownership.lost(run)


def test_a_requeued_run_that_loses_its_process_again_is_not_queued_a_third_time(db, dead_process):
    first = running_run(dead_process)
    second = services.recover(first.pk)
    assert store.claim(second.pk, {**ownership.here("pool-test@host"), **dead_process})

    assert services.recover(second.pk) is None

    second.refresh_from_db()
    assert second.status == Status.FAILED
    assert store.active_run() is None
