"""Keeping the log bounded: predictions (and drift checks) older than PREDICTION_LOG_DAYS are
deleted by beat."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from predictor.models import DriftCheck, HeldLabel, LabelChange, Prediction
from predictor.predlog import rollups

PRUNE_TASK_NAME = "serving: prune the prediction log"
# Small deletes: each is a short transaction, so serving processes writing the log never wait long.
PRUNE_BATCH = 5_000


def prune(now: datetime | None = None, batch: int = PRUNE_BATCH) -> int:
    """Delete predictions older than the retention, a batch at a time; returns how many.

    Drift checks of that age go too: they describe windows of the log that no longer exist; so do
    the labels' history and dropped held labels. The hourly rollups stay (their own retention,
    MONITORING_ROLLUP_DAYS): quality history outlives the rows.
    """
    rollups.prune(now)
    cutoff = (now or timezone.now()) - timedelta(days=settings.PREDICTION_LOG_DAYS)
    DriftCheck.objects.filter(checked_at__lt=cutoff).delete()
    # Labels given (and held labels dropped) that long ago are about predictions pruned here.
    LabelChange.objects.filter(given_at__lt=cutoff).delete()
    HeldLabel.objects.filter(expires_at__lt=cutoff).delete()
    deleted = 0
    while True:
        ids = list(Prediction.objects.filter(created_at__lt=cutoff).values_list("id", flat=True)[:batch])
        if not ids:
            return deleted
        deleted += Prediction.objects.filter(id__in=ids).delete()[0]
        if len(ids) < batch:
            return deleted


def ensure_prune_task() -> PeriodicTask:
    """Declare the hourly prune in beat's schedule if it is missing; never overwrite an edit."""
    existing = PeriodicTask.objects.filter(name=PRUNE_TASK_NAME).first()
    if existing is not None:
        return existing
    hourly, _ = IntervalSchedule.objects.get_or_create(every=1, period=IntervalSchedule.HOURS)
    return PeriodicTask.objects.create(
        name=PRUNE_TASK_NAME,
        task="predictor.tasks.prune_prediction_log",
        interval=hourly,
        description="Delete logged predictions older than PREDICTION_LOG_DAYS.",
    )
