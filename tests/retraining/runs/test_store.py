"""One run at a time, claimed once, and closed when its worker died: all enforced by the database."""

import threading
from datetime import timedelta
from unittest import mock

from django.core import mail
from django.db import connection
from django.utils import timezone

from retraining import tasks
from retraining.models import RetrainingRun
from retraining.pipeline import flow
from retraining.runs import retries, store

Status = RetrainingRun.Status


def test_two_triggers_at_the_same_moment_make_exactly_one_run(transactional_db):
    barrier = threading.Barrier(4)
    results: list[tuple[int, bool]] = []
    errors: list[BaseException] = []

    def trigger(kind: str) -> None:
        try:
            barrier.wait()
            run, created = store.start_run(kind)
            results.append((run.pk, created))
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=trigger, args=(kind,)) for kind in ("api", "cli", "manual", "schedule")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert RetrainingRun.objects.count() == 1
    assert sorted(created for _, created in results) == [False, False, False, True]
    assert {pk for pk, _ in results} == {RetrainingRun.objects.get().pk}


def test_a_trigger_after_the_run_finished_starts_a_new_one(db):
    first, _ = store.start_run("cli")
    store.claim(first.pk)
    store.finish(first, Status.SKIPPED)

    second, created = store.start_run("cli")

    assert created
    assert second.pk != first.pk


def test_a_run_is_claimed_only_once(db):
    run, _ = store.start_run("api")

    assert store.claim(run.pk) is True
    assert store.claim(run.pk) is False
    assert RetrainingRun.objects.get(pk=run.pk).status == Status.RUNNING


def test_a_redelivered_message_for_a_finished_run_does_nothing(db):
    run, _ = store.start_run("api")
    store.claim(run.pk)
    store.finish(run, Status.KEPT, reasons=["kept"], steps=[{"name": "check", "status": "done"}])
    before = RetrainingRun.objects.get(pk=run.pk)

    outcome = tasks.retrain.apply(args=[run.pk]).get()

    after = RetrainingRun.objects.get(pk=run.pk)
    assert outcome == Status.KEPT
    assert (after.status, after.steps, after.finished_at) == (before.status, before.steps, before.finished_at)


def test_a_redelivered_message_for_a_running_run_leaves_it_to_its_worker(db):
    run, _ = store.start_run("api")
    store.claim(run.pk)

    assert flow.execute(run.pk).status == Status.RUNNING
    assert RetrainingRun.objects.get(pk=run.pk).steps == []


def test_a_message_for_a_run_that_does_not_exist_is_ignored(db):
    assert tasks.retrain.apply(args=[987654]).get() == "missing"


def test_the_next_trigger_closes_a_run_whose_worker_stopped_beating(db, settings):
    settings.RUN_HEARTBEAT_TIMEOUT = 30
    stale, _ = store.start_run("schedule")
    store.claim(stale.pk)
    RetrainingRun.objects.filter(pk=stale.pk).update(step="train", heartbeat_at=timezone.now() - timedelta(seconds=31))

    _run, created = store.start_run("cli")

    stale.refresh_from_db()
    assert created
    assert stale.status == Status.FAILED
    assert "during step 'train'" in stale.error
    assert "killed or lost" in stale.error
    assert stale.finished


def test_the_sweep_leaves_a_run_that_is_still_beating(db, settings):
    settings.RUN_HEARTBEAT_TIMEOUT = 30
    run, _ = store.start_run("schedule")
    store.claim(run.pk)

    assert tasks.sweep_stale_runs.apply().get() == []
    assert RetrainingRun.objects.get(pk=run.pk).status == Status.RUNNING


def test_the_sweep_queues_a_run_whose_worker_went_silent_again_once_and_tells_the_team_once(db, settings):
    settings.NOTIFY_EMAILS = ["team@example.com"]
    run, _ = store.start_run("api")
    store.claim(run.pk, {"worker": "w@gone", "host": "gone", "pid": 4242})
    long_ago = timezone.now() - timedelta(seconds=settings.RUN_HEARTBEAT_TIMEOUT + 5)
    RetrainingRun.objects.filter(pk=run.pk).update(heartbeat_at=long_ago, step="train")

    assert tasks.sweep_stale_runs.apply().get() == [run.pk]

    run.refresh_from_db()
    again = run.requeued_as
    assert run.status == Status.FAILED
    assert "killed or lost" in run.error
    assert run.reasons == [f"queued again as run #{again.pk}"]
    assert (again.status, again.trigger, again.setup) == (Status.QUEUED, run.trigger, run.setup)
    assert [message.subject for message in mail.outbox] == [f"[retraining] run #{run.pk}: Failed"]
    # Another sweep (beat's next, a trigger's, another worker's) finds nothing more to do.
    assert tasks.sweep_stale_runs.apply().get() == []
    assert store.take_swept() == []
    assert RetrainingRun.objects.count() == 2
    assert len(mail.outbox) == 1


def test_a_swept_run_that_was_itself_queued_again_after_a_sweep_is_not_queued_a_third_time(db, settings):
    long_ago = timezone.now() - timedelta(seconds=settings.RUN_HEARTBEAT_TIMEOUT + 5)
    run, _ = store.start_run("api")
    store.claim(run.pk)
    RetrainingRun.objects.filter(pk=run.pk).update(heartbeat_at=long_ago)
    tasks.sweep_stale_runs.apply().get()
    second = RetrainingRun.objects.get(pk=run.pk).requeued_as
    store.claim(second.pk)
    RetrainingRun.objects.filter(pk=second.pk).update(heartbeat_at=long_ago)

    assert tasks.sweep_stale_runs.apply().get() == [second.pk]

    assert RetrainingRun.objects.get(pk=second.pk).requeued_as is None
    assert store.active_run() is None


def test_a_swept_cancelled_run_is_not_queued_again(db, settings):
    long_ago = timezone.now() - timedelta(seconds=settings.RUN_HEARTBEAT_TIMEOUT + 5)
    run, _ = store.start_run("api")
    store.claim(run.pk)
    store.cancel(run.pk, "alice")
    RetrainingRun.objects.filter(pk=run.pk).update(heartbeat_at=long_ago)

    assert tasks.sweep_stale_runs.apply().get() == [run.pk]

    assert RetrainingRun.objects.get(pk=run.pk).status == Status.CANCELLED
    assert RetrainingRun.objects.count() == 1


def test_the_sweep_closes_a_run_no_worker_picked_up(db, settings):
    settings.RUN_QUEUE_TIMEOUT = 60
    run, _ = store.start_run("api")
    RetrainingRun.objects.filter(pk=run.pk).update(created_at=timezone.now() - timedelta(seconds=61))

    assert tasks.sweep_stale_runs.apply().get() == [run.pk]
    run.refresh_from_db()
    assert run.status == Status.FAILED
    assert "no worker picked the run up" in run.error


def test_a_requeued_run_stays_the_run_in_progress(db):
    run, _ = store.start_run("api")
    store.claim(run.pk)

    assert store.requeue(run.pk, "MLflow unreachable at http://mlflow, attempt 2 of 5, next in 30 s")
    again, created = store.start_run("cli")

    assert not created
    assert again.pk == run.pk
    assert again.status == Status.QUEUED
    assert store.claim(run.pk)


def test_a_scheduled_tick_delivered_twice_makes_one_run(db, django_capture_on_commit_callbacks):
    with mock.patch("retraining.tasks.retrain.delay") as delay:
        first = tasks.scheduled_retrain.apply(kwargs={"tick": "2026-01-01T02:00"}).get()
        second = tasks.scheduled_retrain.apply(kwargs={"tick": "2026-01-01T02:00"}).get()

    run = RetrainingRun.objects.get()
    assert first == f"queued:{run.pk}"
    assert second == f"existing:{run.pk}"
    delay.assert_called_once_with(run.pk)


def test_retries_back_off_doubling_while_the_waits_fit_in_the_bound(settings):
    settings.RUN_RETRY_FIRST_DELAY, settings.RUN_RETRY_MAX_WAIT = 30, 900

    assert retries.delays() == [30, 60, 120, 240]
    assert retries.attempt(1) == retries.Attempt(number=1, total=5, delay=30)
    assert retries.attempt(5) == retries.Attempt(number=5, total=5, delay=None)
    settings.RUN_RETRY_MAX_WAIT = 0
    assert retries.attempt(1) == retries.Attempt(number=1, total=1, delay=None)


def test_no_write_of_a_run_stores_a_credential(db):
    run, _ = store.start_run(RetrainingRun.Trigger.API)
    leaked = "fatal: unable to access 'https://user:tok3n-secret@git.example/r.git/'"

    RetrainingRun.objects.filter(pk=run.pk).update(waiting=leaked, attempts=[{"attempt": 1, "error": leaked}])
    run.refresh_from_db()
    run.error = leaked
    run.dataset = {"source": "https://tok3n-secret@git.example/r.git"}
    run.save()

    stored = RetrainingRun.objects.values_list("waiting", "attempts", "error", "dataset").get(pk=run.pk)
    assert "tok3n" not in repr(stored)
    assert stored[0] == "fatal: unable to access 'https://***@git.example/r.git/'"
    assert stored[3] == {"source": "https://***@git.example/r.git"}


def test_runs_created_in_bulk_from_a_generator_are_all_stored_and_redacted(db):
    leaked = "https://user:tok3n-secret@git.example/r.git"

    RetrainingRun.objects.bulk_create(
        RetrainingRun(trigger="api", status="failed", active=None, error=leaked) for _ in range(3)
    )

    errors = list(RetrainingRun.objects.values_list("error", flat=True))
    assert errors == ["https://***@git.example/r.git"] * 3  # redacting must not use up the rows it is given
