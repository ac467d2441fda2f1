"""Celery tasks: the entry points a worker runs, thin interfaces over services and the pipeline.

Time limits come from settings (CELERY_TASK_TIME_LIMIT, sized for training); acks late and a
prefetch of one are set globally, so a worker holds one run at a time and a killed worker's
message is not lost.
"""

import logging
from typing import Any

from celery import Task, shared_task

from retraining import services
from retraining.models import RetrainingRun
from retraining.monitoring import triggers
from retraining.pipeline import flow
from retraining.runs import retries, store
from retraining.workers import schedule

logger = logging.getLogger(__name__)


@shared_task(
    name="retraining.tasks.retrain",
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
    max_retries=None,
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
    return store.close_stale_runs()


def _execute(task: Task, run_id: int) -> str:
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
