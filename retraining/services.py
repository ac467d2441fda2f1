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

from retraining.models import RetrainingRun
from retraining.runs import ownership, store

logger = logging.getLogger(__name__)

RETRAIN_TASK = "retraining.tasks.retrain"


def trigger_run(
    trigger: str, user: AbstractBaseUser | None = None, evidence: dict[str, Any] | None = None
) -> tuple[RetrainingRun, bool]:
    """Queue a run for the worker, or return the run in progress. Enqueued after commit."""
    run, created = store.start_run(trigger, user, evidence=evidence)
    if created:
        transaction.on_commit(lambda: enqueue(run.pk))
    return run, created


def enqueue(run_id: int) -> None:
    current_app.tasks[RETRAIN_TASK].delay(run_id)


def recover(run_id: int) -> RetrainingRun | None:
    """Close a run whose owner died, and queue it again once; the new run, if one was queued.

    Closing is a conditional update, so of two redeliveries only one closes and requeues. A run
    that was itself queued again after losing its owner is not queued a third time: a dataset
    that kills its pool process (out of memory) every time fails twice, not forever.
    """
    run = RetrainingRun.objects.filter(pk=run_id).first()
    reason = ownership.lost(run) if run is not None else ""
    if not reason:
        return None
    owner = {**run.owner, "lost_at": timezone.now().isoformat()}
    if not store.close_lost(run, f"{reason}; nothing was deployed", owner):
        return None
    if RetrainingRun.objects.filter(requeued_as=run, owner__has_key="lost_at").exists():
        logger.error("run #%s lost its process again: not queued a third time", run.pk)
        return None
    again, created = trigger_run(run.trigger, run.triggered_by)
    note = f"queued again as run #{again.pk}" if created else f"run #{again.pk} was already in progress"
    store.mark_requeued(run, again, note)
    logger.warning("run #%s: %s; %s", run.pk, reason, note)
    return again if created else None


def requeue_stopped_runs() -> list[int]:
    """Queue a new run in place of each run a stop closed as failed; returns the new runs' ids.

    Called by the main worker process once it consumes nothing more (a stopping worker that took the
    new run's message would run it into the SIGKILL). The new run takes the same trigger and the
    settings of now; the stopped one records where it went, which also keeps it from being queued twice.
    """
    queued = []
    for run in store.stopped_by_signal():
        again, created = trigger_run(run.trigger, run.triggered_by)
        note = f"queued again as run #{again.pk}" if created else f"run #{again.pk} was already in progress"
        store.mark_requeued(run, again, note)
        logger.warning("run #%s was stopped by %s: %s", run.pk, run.stopped_by_signal, note)
        queued.append(again.pk)
    return queued
