"""Starting retraining runs: the one place that writes a new run and puts it in the queue.

Every interface starts runs here: the panel, REST, the command line, the monitoring triggers, a
recovered run whose process died, and the runs a stopping worker abandoned. The Celery task that
runs them is looked up by its name in Celery's registry, not imported: tasks call services, never
the other way round.
"""

import logging
from typing import Any

from celery import current_app
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from ml.redact import redact
from retraining.models import RetrainingRun
from retraining.notify import channels
from retraining.runs import ownership, store
from retraining.runs.setup import TrainingSetup

logger = logging.getLogger(__name__)

RETRAIN_TASK = "retraining.tasks.retrain"


def trigger_run(
    trigger: str,
    user: AbstractBaseUser | None = None,
    evidence: dict[str, Any] | None = None,
    setup: TrainingSetup | None = None,
    forced: dict[str, Any] | None = None,
) -> tuple[RetrainingRun, bool]:
    """Queue a run for the worker, or return the run in progress. Enqueued after commit.

    If the broker refuses the message, the run is closed as failed at once, naming the broker
    (its status says so to the caller): nothing would ever run it, and it must not block the next.
    """
    run, created = store.start_run(trigger, user, evidence=evidence, setup=setup, forced=forced)
    if created:
        transaction.on_commit(lambda: enqueue(run.pk))
        if not transaction.get_connection().in_atomic_block:  # enqueued already: the caller sees the outcome
            run.refresh_from_db()
    return run, created


def enqueue(run_id: int) -> bool:
    """Send the run's message; False (and the run closed as failed) when the broker refused it."""
    try:
        current_app.tasks[RETRAIN_TASK].delay(run_id)
    except Exception as exc:
        reason = f"the broker {broker_name()} refused the run: {type(exc).__name__}: {redact(str(exc))}"
        logger.error("run #%s: %s", run_id, reason)
        if store.close_unsent(run_id, f"{reason}; nothing was run"):
            # Told at once: every trigger meets the same broker until someone fixes it.
            run = RetrainingRun.objects.get(pk=run_id)
            RetrainingRun.objects.filter(pk=run_id).update(notifications=channels.notify(run))
        return False
    store.handed_over(run_id)
    return True


def unsent(run: RetrainingRun) -> bool:
    """Whether a run just triggered was closed because the broker refused its message (it never started)."""
    return run.status == RetrainingRun.Status.FAILED and run.started_at is None


def broker_name() -> str:
    """Where runs are sent, with no password in it."""
    return redact(current_app.conf.broker_url or "") or "(unknown)"


def forced_by(who: str, why: str) -> dict[str, Any]:
    """The audit of a forced run: who, when, why."""
    return {"by": who, "at": timezone.now().isoformat(), "why": why}


def stored_setup(run: RetrainingRun) -> TrainingSetup | None:
    """The setup a run was queued with, for a run queued in its place; None for a run from before."""
    return TrainingSetup.deserialise(run.setup) if run.setup else None


def recover(run_id: int) -> RetrainingRun | None:
    """Close a run whose owner died, and queue it again once; the new run, if one was queued.

    Closing is a conditional update, so of two redeliveries (or a redelivery and the worker that
    saw its pool process die) only one closes and requeues.
    """
    run = RetrainingRun.objects.filter(pk=run_id).first()
    reason = ownership.lost(run) if run is not None else ""
    if not reason:
        return None
    owner = {**run.owner, "lost_at": timezone.now().isoformat()}
    if not store.close_lost(run, f"{reason}; nothing was deployed", owner):
        return None
    return _replace_lost(run, reason)


def requeue_swept_runs() -> list[int]:
    """Queue again, once, each run the stale-heartbeat sweep closed; returns the new runs' ids."""
    queued = []
    for run in store.take_swept():
        again = _replace_lost(run, run.error)
        if again is not None:
            queued.append(again.pk)
    return queued


def _replace_lost(run: RetrainingRun, reason: str) -> RetrainingRun | None:
    """Queue a new run in place of a closed run whose process was lost, and tell the team once.

    A run that was itself queued again after losing its process is not queued a third time: a
    dataset that kills its pool process (out of memory) every time fails twice, not forever.
    """
    run.refresh_from_db()
    if run.cancel_requested_at is not None:
        logger.warning("run #%s: %s; it was cancelled, so it is not queued again", run.pk, reason)
        return None
    again, created = None, False
    if RetrainingRun.objects.filter(requeued_as=run, owner__has_key="lost_at").exists():
        logger.error("run #%s lost its process again: not queued a third time", run.pk)
    else:
        again, created = trigger_run(run.trigger, run.triggered_by, setup=stored_setup(run), forced=run.forced)
        note = f"queued again as run #{again.pk}" if created else f"run #{again.pk} was already in progress"
        store.mark_requeued(run, again, note)
        logger.warning("run #%s: %s; %s", run.pk, reason, note)
    run.refresh_from_db()
    RetrainingRun.objects.filter(pk=run.pk).update(notifications=channels.notify(run))
    return again if created else None


def requeue_stopped_runs() -> list[int]:
    """Queue a new run in place of each run a stop closed as failed; returns the new runs' ids.

    Called by the main worker process once it consumes nothing more (a stopping worker that took the
    new run's message would run it into the SIGKILL). The new run takes the same trigger and the
    setup the stopped one was queued with, not this worker's settings; the stopped one records
    where it went, which also keeps it from being queued twice.
    """
    queued = []
    for run in store.stopped_by_signal():
        again, created = trigger_run(run.trigger, run.triggered_by, setup=stored_setup(run), forced=run.forced)
        note = f"queued again as run #{again.pk}" if created else f"run #{again.pk} was already in progress"
        store.mark_requeued(run, again, note)
        logger.warning("run #%s was stopped by %s: %s", run.pk, run.stopped_by_signal, note)
        queued.append(again.pk)
    return queued
