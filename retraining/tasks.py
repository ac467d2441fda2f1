"""Celery tasks: the entry points a worker runs, thin interfaces over services and the pipeline.

Time limits come from settings (CELERY_TASK_TIME_LIMIT, sized for training); acks late and a
prefetch of one are set globally, so a worker holds one run at a time and a killed worker's
message is not lost.
"""

import logging
import threading
from typing import Any

from billiard.einfo import ExceptionInfo, ExceptionWithTraceback
from billiard.exceptions import WorkerLostError
from celery import Task, shared_task
from celery.worker.request import Request
from django import db

from retraining import services
from retraining.models import RetrainingRun
from retraining.monitoring import triggers
from retraining.runs import retries, store
from retraining.workers import schedule

logger = logging.getLogger(__name__)
# How long the worker's main process waits for a run whose pool process died to be closed.
RECOVER_WAIT = 5.0


class RunRequest(Request):
    """A retrain message as the worker's main process holds it.

    When the pool process running it dies (the OOM killer, an operator), the main process closes
    the run and queues it again at once, before it gives the message back to the broker: wherever
    that message lands, on this machine or another, it then finds the run closed and does nothing.
    """

    def on_failure(self, exc_info: ExceptionInfo, send_failed_event: bool = True, return_ok: bool = False) -> None:
        if self._process_lost(exc_info) and self.args:
            # In a thread of its own, so its database connection is closed after it and a slow mail
            # server holds the worker's event loop for RECOVER_WAIT at most; closing takes far less.
            recovery = threading.Thread(target=_recover, args=(self.args[0],), name="recover-run", daemon=True)
            recovery.start()
            recovery.join(RECOVER_WAIT)
        super().on_failure(exc_info, send_failed_event=send_failed_event, return_ok=return_ok)

    def _process_lost(self, exc_info: ExceptionInfo) -> bool:
        exc = exc_info.exception
        exc = exc.exc if isinstance(exc, ExceptionWithTraceback) else exc
        # Billiard reports some deaths as the child's exit (SystemExit), as Celery's own handler reads them.
        stopped_by_us = self._already_cancelled or self._already_revoked
        exited = isinstance(exc, SystemExit | KeyboardInterrupt) and not stopped_by_us
        return isinstance(exc, WorkerLostError) or exited


@shared_task(
    name="retraining.tasks.retrain",
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
    max_retries=None,
    Request="retraining.tasks:RunRequest",
)
def retrain(self: Task, run_id: int) -> str:
    """Run a queued run.

    A redelivered message for a run that already started closes and requeues it if the process
    that ran it died (retraining/runs/ownership.py); while that process lives it does nothing.
    """
    return _execute(self, run_id)


@shared_task(name="retraining.tasks.scheduled_retrain", acks_late=True, ignore_result=True)
def scheduled_retrain(tick: str | None = None) -> str:
    """What beat sends: one run per tick, even if the tick is delivered twice.

    The tick is the schedule's most recent due time, not the moment the message arrives: two beat
    processes, or a redelivered message, name the same tick and the unique key lets only one run in.
    """
    key = tick or schedule.tick_key()
    run, created = store.start_run(RetrainingRun.Trigger.SCHEDULE, tick=key)
    if not created:
        logger.info("scheduled retrain %s: run #%s already covers it (%s)", key, run.pk, run.status)
        return f"existing:{run.pk}"
    if not services.enqueue(run.pk):
        return f"failed:{run.pk}"
    return f"queued:{run.pk}"


@shared_task(name="retraining.tasks.sweep_stale_runs", ignore_result=True)
def sweep_stale_runs() -> list[int]:
    """Close the runs whose worker stopped beating, and queue each again once; the closed runs' ids."""
    closed = store.close_stale_runs()
    services.requeue_swept_runs()
    return closed


def _recover(run_id: int) -> None:
    try:
        services.recover(run_id)
    except Exception:
        logger.exception("run #%s: its pool process died and the run could not be closed", run_id)
    finally:
        db.connections.close_all()


def _execute(task: Task, run_id: int) -> str:
    # The pipeline (scikit-learn, MLflow) is imported by the worker that runs a run, not by every
    # process that registers the tasks when Django is set up (a web process, a one-off command).
    from retraining.pipeline import flow

    attempt = retries.attempt((task.request.retries or 0) + 1)
    try:
        run = flow.execute(run_id, attempt=attempt, worker=task.request.hostname or "")
    except RetrainingRun.DoesNotExist:
        logger.warning("run #%s does not exist (deleted, or a message from another database): ignored", run_id)
        return "missing"
    if run.status == RetrainingRun.Status.RUNNING:  # claimed by another process: is it alive?
        again = services.recover(run_id)
        return f"requeued:{again.pk}" if again is not None else run.status
    if run.status == RetrainingRun.Status.QUEUED:  # a transient fault: try again after the delay
        raise task.retry(args=(run_id,), countdown=attempt.delay, max_retries=attempt.total - 1)
    return run.status


@shared_task(name="retraining.tasks.watch_serving", ignore_result=True)
def watch_serving() -> str:
    """What beat sends every MONITOR_INTERVAL seconds: drift and live quality, and their triggers."""
    return "; ".join(triggers.watch().notes)


def requeue_after_shutdown(**kwargs: Any) -> None:
    """Connected to the worker's shutdown: the runs the stop abandoned are queued for the next worker."""
    try:
        services.requeue_stopped_runs()
    except Exception:
        logger.exception("could not queue again the runs stopped by this shutdown")
