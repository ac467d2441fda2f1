"""Celery tasks: thin interfaces that take a run id and call the pipeline."""

import logging

from celery import shared_task

from retraining import pipeline, runs, schedule
from retraining.models import RetrainingRun

logger = logging.getLogger(__name__)


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def retrain(run_id: int) -> str:
    """Run a queued run. A redelivered message for a run that already started does nothing."""
    return pipeline.execute(run_id).status


@shared_task(acks_late=True, ignore_result=True)
def scheduled_retrain(tick: str | None = None) -> str:
    """What beat sends: one run per tick, even if the tick is delivered twice.

    The tick is the schedule's most recent due time, not the moment the message arrives: two beat
    processes, or a redelivered message, name the same tick and the unique key lets only one run in.
    """
    key = tick or schedule.tick_key()
    run, created = runs.start_run(RetrainingRun.Trigger.SCHEDULE, tick=key)
    if not created:
        logger.info("scheduled retrain %s: run #%s already covers it (%s)", key, run.pk, run.status)
        return f"existing:{run.pk}"
    return pipeline.execute(run.pk).status


@shared_task(ignore_result=True)
def sweep_stale_runs() -> list[int]:
    return runs.close_stale_runs()
