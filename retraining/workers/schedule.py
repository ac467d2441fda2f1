"""The periodic tasks beat runs, declared in code so every environment has them, and edited by staff.

Beat (django-celery-beat's DatabaseScheduler) reloads when `PeriodicTasks.last_update` moves, which
only ORM saves of PeriodicTask/CrontabSchedule do: edits here always go through `save()`.
"""

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from celery.schedules import crontab
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

RETRAIN_TASK_NAME = "retraining: scheduled run"
SWEEP_TASK_NAME = "retraining: close runs whose worker died"
WATCH_TASK_NAME = "retraining: watch drift and live quality"
FIELDS = ("minute", "hour", "day_of_month", "month_of_year", "day_of_week")
PRESETS = {
    "hourly": "0 * * * *",
    "daily": "0 2 * * *",
    "weekly": "0 2 * * 1",
    "monthly": "0 2 1 * *",
}
# Beat and worker clocks may disagree a little: a tick that arrives this early still counts as its own.
CLOCK_SKEW = timedelta(seconds=30)
# How far to look for the previous or next due time ("0 0 29 2 *" fires once in four years).
HORIZON_DAYS = 5 * 366


class CronError(ValueError):
    """A cron expression beat could not run; the message names the field at fault."""


@dataclass(frozen=True)
class ScheduleState:
    expression: str
    preset: str
    enabled: bool
    timezone: str
    next_run_at: datetime | None
    last_run_at: datetime | None


def parse_cron(expression: str) -> dict[str, str]:
    fields = expression.split()
    if len(fields) != 5:
        raise CronError(
            f"{expression!r} has {len(fields)} field(s); a cron expression has 5: "
            "minute hour day-of-month month day-of-week"
        )
    parsed = dict(zip(FIELDS, fields, strict=True))
    for name, value in parsed.items():
        try:
            crontab(**{name: value})
        except (ValueError, TypeError) as exc:
            raise CronError(f"{name.replace('_', '-')} {value!r} is not valid: {exc}") from None
    try:
        crontab(**parsed)
    except (ValueError, TypeError) as exc:
        raise CronError(f"{expression!r} is not valid: {exc}") from None
    if next_due(parsed, timezone.now()) is None:
        raise CronError(f"{expression!r} never matches a real date")
    return parsed


def expression_of(schedule: CrontabSchedule) -> str:
    return " ".join(str(getattr(schedule, name)) for name in FIELDS)


def preset_of(expression: str) -> str:
    return next((name for name, cron in PRESETS.items() if cron == expression), "custom")


def retrain_task() -> PeriodicTask:
    return PeriodicTask.objects.select_related("crontab").get(name=RETRAIN_TASK_NAME)


def ensure_default_schedule() -> PeriodicTask:
    """Create the schedule if it is missing; never overwrite what staff edited."""
    existing = PeriodicTask.objects.filter(name=RETRAIN_TASK_NAME).first()
    if existing is None:
        crontab_row, _ = CrontabSchedule.objects.get_or_create(
            **parse_cron(settings.RETRAIN_SCHEDULE), timezone=settings.TIME_ZONE
        )
        existing = PeriodicTask.objects.create(
            name=RETRAIN_TASK_NAME,
            task="retraining.tasks.scheduled_retrain",
            crontab=crontab_row,
            kwargs=json.dumps({}),
            description="Check for new data and retrain (the pipeline's daily run).",
        )
    if not PeriodicTask.objects.filter(name=SWEEP_TASK_NAME).exists():
        every, _ = IntervalSchedule.objects.get_or_create(every=60, period=IntervalSchedule.SECONDS)
        PeriodicTask.objects.create(name=SWEEP_TASK_NAME, task="retraining.tasks.sweep_stale_runs", interval=every)
    if not PeriodicTask.objects.filter(name=WATCH_TASK_NAME).exists():
        every, _ = IntervalSchedule.objects.get_or_create(
            every=settings.MONITOR_INTERVAL, period=IntervalSchedule.SECONDS
        )
        PeriodicTask.objects.create(
            name=WATCH_TASK_NAME,
            task="retraining.tasks.watch_serving",
            interval=every,
            description="Compare recent inputs and live quality with the champion's; start a drift or degradation run.",
        )
    return existing


def schedule_state(now: datetime | None = None) -> ScheduleState:
    task = retrain_task()
    expression = expression_of(task.crontab)
    fields = dict(zip(FIELDS, expression.split(), strict=True))
    zone = str(task.crontab.timezone)
    return ScheduleState(
        expression=expression,
        preset=preset_of(expression),
        enabled=task.enabled,
        timezone=zone,
        next_run_at=next_due(fields, now or timezone.now(), zone) if task.enabled else None,
        last_run_at=task.last_run_at,
    )


def update_schedule(expression: str, enabled: bool) -> PeriodicTask:
    """Point the retrain task at a cron expression and switch it on or off; beat follows at once."""
    fields = parse_cron(expression)
    with transaction.atomic():
        task = PeriodicTask.objects.select_for_update().get(name=RETRAIN_TASK_NAME)
        task.crontab, _ = CrontabSchedule.objects.get_or_create(**fields, timezone=settings.TIME_ZONE)
        task.enabled = enabled
        # save() fires django-celery-beat's pre_save signal, which bumps PeriodicTasks.last_update.
        task.save()
    return task


def tick_key(now: datetime | None = None) -> str:
    """The due time a scheduled run belongs to: every delivery of one tick maps to the same key."""
    now = now or timezone.now()
    task = PeriodicTask.objects.select_related("crontab").filter(name=RETRAIN_TASK_NAME).first()
    due = None
    if task is not None and task.crontab is not None:
        fields = dict(zip(FIELDS, expression_of(task.crontab).split(), strict=True))
        due = previous_due(fields, now + CLOCK_SKEW, str(task.crontab.timezone))
    if due is None:
        due = now.replace(second=0, microsecond=0)
    return "schedule:" + due.astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%dT%H:%MZ")


def next_due(fields: dict[str, str], after: datetime, zone: str = "UTC") -> datetime | None:
    """The first minute strictly after `after` that the cron fields match (celery's semantics)."""
    return _walk(fields, after, zone, forward=True)


def previous_due(fields: dict[str, str], at: datetime, zone: str = "UTC") -> datetime | None:
    """The latest minute at or before `at` that the cron fields match."""
    return _walk(fields, at, zone, forward=False)


def _walk(fields: dict[str, str], start: datetime, zone: str, *, forward: bool) -> datetime | None:
    """Step through local wall-clock time, skipping whole days and hours that cannot match."""
    spec = crontab(**fields)
    tz = ZoneInfo(zone)
    moment = start.astimezone(tz).replace(tzinfo=None, second=0, microsecond=0)
    if forward:
        moment += timedelta(minutes=1)
    limit = moment + timedelta(days=HORIZON_DAYS if forward else -HORIZON_DAYS)
    while (moment <= limit) if forward else (moment >= limit):
        cron_weekday = (moment.weekday() + 1) % 7  # cron counts from Sunday = 0
        day_ok = (
            moment.month in spec.month_of_year and moment.day in spec.day_of_month and cron_weekday in spec.day_of_week
        )
        if not day_ok:
            day = moment.replace(hour=0, minute=0)
            moment = day + timedelta(days=1) if forward else day - timedelta(minutes=1)
        elif moment.hour not in spec.hour:
            hour = moment.replace(minute=0)
            moment = hour + timedelta(hours=1) if forward else hour - timedelta(minutes=1)
        elif moment.minute not in spec.minute:
            moment += timedelta(minutes=1 if forward else -1)
        else:
            return moment.replace(tzinfo=tz)
    return None
