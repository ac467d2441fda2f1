"""The beat schedule: created by migrate, edited without a restart, one run per tick."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django_celery_beat.models import PeriodicTask, PeriodicTasks
from django_celery_beat.schedulers import DatabaseScheduler

from config.celery import app
from retraining.models import RetrainingRun
from retraining.tasks import retrain, scheduled_retrain
from retraining.workers import schedule

PARIS = "Europe/Paris"


def test_the_daily_retrain_task_exists_after_migrate(db):
    task = PeriodicTask.objects.get(name=schedule.RETRAIN_TASK_NAME)
    assert task.task == "retraining.tasks.scheduled_retrain"
    assert task.enabled
    assert schedule.expression_of(task.crontab) == "0 2 * * *"
    assert str(task.crontab.timezone) == settings.TIME_ZONE
    assert PeriodicTask.objects.filter(name=schedule.SWEEP_TASK_NAME, enabled=True).exists()


def test_ensuring_the_default_schedule_never_overwrites_an_edit(db):
    schedule.update_schedule("15 4 * * 0", enabled=False)
    schedule.ensure_default_schedule()
    state = schedule.schedule_state()
    assert (state.expression, state.enabled) == ("15 4 * * 0", False)


def test_editing_the_schedule_changes_what_beat_runs_without_a_restart(transactional_db):
    # Beat loads only the crontabs due within a couple of hours: every-hour schedules always are.
    schedule.update_schedule("0 * * * *", enabled=True)
    beat = DatabaseScheduler(app=app)
    assert beat.schedule[schedule.RETRAIN_TASK_NAME].schedule.minute == {0}
    before = PeriodicTasks.last_change()

    schedule.update_schedule("*/20 * * * 1-5", enabled=True)

    assert PeriodicTasks.last_change() > before
    assert beat.schedule_changed()
    entry = beat.all_as_schedule()[schedule.RETRAIN_TASK_NAME]
    assert entry.schedule.minute == {0, 20, 40}
    assert entry.schedule.day_of_week == {1, 2, 3, 4, 5}


def test_switching_the_schedule_off_takes_the_task_out_of_beats_schedule(transactional_db):
    schedule.update_schedule("0 * * * *", enabled=True)
    beat = DatabaseScheduler(app=app)
    assert schedule.RETRAIN_TASK_NAME in beat.schedule
    schedule.update_schedule("0 * * * *", enabled=False)
    assert beat.schedule_changed()
    assert schedule.RETRAIN_TASK_NAME not in beat.all_as_schedule()
    assert schedule.schedule_state().next_run_at is None


def test_the_next_run_time_follows_the_schedule(db, settings):
    settings.TIME_ZONE = PARIS
    schedule.update_schedule("0 2 * * 1", enabled=True)  # Mondays 02:00 Paris time
    state = schedule.schedule_state(now=datetime(2026, 3, 4, 12, 0, tzinfo=UTC))  # a Wednesday
    assert state.next_run_at == datetime(2026, 3, 9, 2, 0, tzinfo=ZoneInfo(PARIS))
    assert state.timezone == PARIS


@pytest.mark.parametrize(
    ("cron", "at", "previous", "following"),
    [
        ("0 2 * * *", datetime(2026, 5, 10, 1, 59), datetime(2026, 5, 9, 2, 0), datetime(2026, 5, 10, 2, 0)),
        ("0 2 * * *", datetime(2026, 5, 10, 2, 0), datetime(2026, 5, 10, 2, 0), datetime(2026, 5, 11, 2, 0)),
        ("0 * * * *", datetime(2026, 5, 10, 13, 37), datetime(2026, 5, 10, 13, 0), datetime(2026, 5, 10, 14, 0)),
        ("0 2 1 * *", datetime(2026, 5, 10, 9, 0), datetime(2026, 5, 1, 2, 0), datetime(2026, 6, 1, 2, 0)),
        ("*/15 9-17 * * 1-5", datetime(2026, 5, 9, 12, 0), datetime(2026, 5, 8, 17, 45), datetime(2026, 5, 11, 9, 0)),
        ("0 0 29 2 *", datetime(2026, 5, 10, 0, 0), datetime(2024, 2, 29, 0, 0), datetime(2028, 2, 29, 0, 0)),
    ],
)
def test_it_finds_the_due_times_around_a_moment(cron, at, previous, following):
    fields = schedule.parse_cron(cron)
    zone = ZoneInfo(PARIS)
    assert schedule.previous_due(fields, at.replace(tzinfo=zone), PARIS) == previous.replace(tzinfo=zone)
    assert schedule.next_due(fields, at.replace(tzinfo=zone), PARIS) == following.replace(tzinfo=zone)


def test_every_delivery_of_one_tick_gets_the_same_key(db):
    on_time = datetime(2026, 5, 10, 2, 0, 1, tzinfo=UTC)
    key = schedule.tick_key(on_time)
    assert key == "schedule:2026-05-10T02:00Z"
    # a second beat a few seconds early, a redelivery forty minutes late
    assert schedule.tick_key(datetime(2026, 5, 10, 1, 59, 50, tzinfo=UTC)) == key
    assert schedule.tick_key(datetime(2026, 5, 10, 2, 40, tzinfo=UTC)) == key
    assert schedule.tick_key(datetime(2026, 5, 11, 2, 0, 3, tzinfo=UTC)) != key


@pytest.mark.slow
def test_a_tick_delivered_twice_makes_one_scheduled_run(transactional_db, demo_registry, model_name, served_model):
    first = scheduled_retrain.apply().get()
    second = scheduled_retrain.apply().get()
    run = RetrainingRun.objects.get()
    assert run.trigger == "schedule"
    assert run.tick == schedule.tick_key()
    assert first == f"queued:{run.pk}"
    assert second == f"existing:{run.pk}"
    # The queued run is the tick's one run, and it runs to the end.
    assert retrain.apply(args=(run.pk,)).get() == "deployed"
    assert scheduled_retrain.apply().get() == f"existing:{run.pk}"
    assert RetrainingRun.objects.count() == 1


def test_a_new_tick_makes_a_new_run(transactional_db, settings, tmp_path):
    settings.DATA_REGISTRY = str(tmp_path / "missing")
    settings.DATA_IS_DEMO = False
    scheduled_retrain.apply(kwargs={"tick": "schedule:2026-05-10T02:00Z"})
    scheduled_retrain.apply(kwargs={"tick": "schedule:2026-05-10T02:00Z"})
    # The first tick's run ends (here: failed, the registry is missing) before the next tick.
    retrain.apply(args=(RetrainingRun.objects.get().pk,))
    scheduled_retrain.apply(kwargs={"tick": "schedule:2026-05-11T02:00Z"})
    assert sorted(RetrainingRun.objects.values_list("tick", flat=True)) == [
        "schedule:2026-05-10T02:00Z",
        "schedule:2026-05-11T02:00Z",
    ]
