"""A redelivered run whose process died is closed and queued again at once; a live owner is left alone."""

from datetime import datetime, timedelta

import psutil
from django.core import mail
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


def held(run: RetrainingRun, pid: int | None) -> list[dict]:
    """A worker heartbeat's `running`: the run in a pool process."""
    return [{"task": "retraining.tasks.retrain", "id": "message-1", "run_id": run.pk, "started_at": None, "pid": pid}]


def test_an_owner_on_another_machine_is_judged_by_its_workers_heartbeat(db):
    now = timezone.now()
    run = running_run({"host": "elsewhere", "worker": "w@elsewhere"})
    heartbeat = WorkerHeartbeat.objects.create(
        hostname="w@elsewhere",
        pid=1,
        started_at=now - timedelta(hours=1),
        seen_at=now,
        running=held(run, run.owner["pid"]),
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


def test_an_owner_on_another_machine_whose_worker_no_longer_holds_the_run_is_lost(db):
    run = running_run({"host": "elsewhere", "worker": "w@elsewhere", "pid": 4242})
    claimed = datetime.fromisoformat(run.owner["claimed_at"])
    later = claimed + timedelta(seconds=5)
    heartbeat = WorkerHeartbeat.objects.create(
        hostname="w@elsewhere", pid=1, started_at=claimed - timedelta(hours=1), seen_at=later, running=held(run, 4242)
    )
    assert ownership.lost(run, later) == ""

    heartbeat.running = []
    heartbeat.save()
    assert "(pid 4242 on elsewhere, worker w@elsewhere) is gone during step 'train'" in ownership.lost(run, later)
    assert "no live process of it holds the run" in ownership.lost(run, later)

    # Another pool process of that worker holds it: a redelivery running it again there, not the owner.
    heartbeat.running = held(run, 4343)
    heartbeat.save()
    assert "no live process of it holds the run" in ownership.lost(run, later)

    # Written a moment after the claim, before the worker recorded the task as its own: proves nothing.
    heartbeat.running, heartbeat.seen_at = [], claimed + timedelta(seconds=1)
    heartbeat.save()
    assert ownership.lost(run, later) == ""


def test_a_redelivery_on_another_machine_closes_requeues_and_tells_once_a_run_its_owner_no_longer_holds(db, settings):
    settings.NOTIFY_EMAILS = ["team@example.com"]
    now = timezone.now()
    claimed = (now - timedelta(seconds=10)).isoformat()
    run = running_run({"host": "elsewhere", "worker": "w@elsewhere", "pid": 4242, "claimed_at": claimed})
    WorkerHeartbeat.objects.create(
        hostname="w@elsewhere", pid=1, started_at=now - timedelta(hours=1), seen_at=now, running=[]
    )

    result = tasks.retrain.apply(args=[run.pk]).get()

    run.refresh_from_db()
    again = run.requeued_as
    assert result == f"requeued:{again.pk}"
    assert run.status == Status.FAILED
    assert "no live process of it holds the run; nothing was deployed" in run.error
    assert (again.status, again.trigger) == (Status.QUEUED, run.trigger)
    assert [message.subject for message in mail.outbox] == [f"[retraining] run #{run.pk}: Failed"]
    assert f"queued again as run #{again.pk}" in mail.outbox[0].body
    assert run.notifications == {"email": "sent"}
    # The same message delivered once more, and the sweep: nothing more is queued or told.
    assert tasks.retrain.apply(args=[run.pk]).get() == Status.FAILED
    tasks.sweep_stale_runs.apply().get()
    assert RetrainingRun.objects.count() == 2
    assert len(mail.outbox) == 1
