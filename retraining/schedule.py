"""The periodic tasks beat runs, declared in code so every environment has them."""

import json

from django.conf import settings
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

RETRAIN_TASK_NAME = "retraining: scheduled run"
SWEEP_TASK_NAME = "retraining: close runs whose worker died"


def parse_cron(expression: str) -> dict[str, str]:
    fields = expression.split()
    if len(fields) != 5:
        raise ValueError(f"{expression!r} must have 5 fields (minute hour day-of-month month day-of-week)")
    minute, hour, day_of_month, month_of_year, day_of_week = fields
    return {
        "minute": minute,
        "hour": hour,
        "day_of_month": day_of_month,
        "month_of_year": month_of_year,
        "day_of_week": day_of_week,
    }


def ensure_default_schedule() -> PeriodicTask:
    """Create the schedule if it is missing; never overwrite what staff edited."""
    existing = PeriodicTask.objects.filter(name=RETRAIN_TASK_NAME).first()
    if existing is None:
        crontab, _ = CrontabSchedule.objects.get_or_create(
            **parse_cron(settings.RETRAIN_SCHEDULE), timezone=settings.TIME_ZONE
        )
        existing = PeriodicTask.objects.create(
            name=RETRAIN_TASK_NAME,
            task="retraining.tasks.scheduled_retrain",
            crontab=crontab,
            kwargs=json.dumps({}),
            description="Check for new data and retrain (the pipeline's daily run).",
        )
    if not PeriodicTask.objects.filter(name=SWEEP_TASK_NAME).exists():
        every, _ = IntervalSchedule.objects.get_or_create(every=60, period=IntervalSchedule.SECONDS)
        PeriodicTask.objects.create(name=SWEEP_TASK_NAME, task="retraining.tasks.sweep_stale_runs", interval=every)
    return existing
