"""Celery tasks of serving: thin interfaces over predictor services."""

import logging

from celery import shared_task

from predictor import predlog

logger = logging.getLogger(__name__)


@shared_task(name="predictor.tasks.prune_prediction_log", ignore_result=True)
def prune_prediction_log() -> int:
    deleted = predlog.prune()
    if deleted:
        logger.info("prediction log: pruned %s predictions older than the retention", deleted)
    return deleted
