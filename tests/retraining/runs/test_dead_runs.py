"""A run nothing will execute never blocks the next: its starter died, or the broker refused it."""

import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from django.utils import timezone

from retraining import tasks
from retraining.models import RetrainingRun
from retraining.runs import store
from tests.support.processes import post_run_elsewhere, subprocess_env

ROOT = Path(__file__).resolve().parents[3]
Status = RetrainingRun.Status

# `manage.py retrain` killed (SIGKILL) the moment it queued its run, before it started it.
KILLED_AFTER_QUEUEING = """
import os, signal, django
django.setup()
from retraining.pipeline import flow
flow.execute = lambda *args, **kwargs: os.kill(os.getpid(), signal.SIGKILL)
from django.core.management import call_command
call_command("retrain")
"""

# A web process whose REDIS_URL points at nothing (with a password that must not be shown).
WRONG_BROKER = "redis://:hunter2-secret@127.0.0.1:1/0"


def test_a_retrain_command_killed_right_after_queueing_does_not_block_the_next_run(transactional_db):
    proc = subprocess.run(
        [sys.executable, "-c", KILLED_AFTER_QUEUEING],
        cwd=ROOT,
        env=subprocess_env(DJANGO_SETTINGS_MODULE="config.settings"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    left = RetrainingRun.objects.get()
    assert (left.status, left.trigger) == (Status.QUEUED, "cli")

    following, created = store.start_run(RetrainingRun.Trigger.API)

    assert created, f"run #{following.pk} was refused: {following} blocks it"
    left.refresh_from_db()
    assert left.status == Status.FAILED
    assert left.finished
    assert left.error.startswith(f"the process that queued it (cli, pid {left.starter['pid']} on ")
    assert left.error.endswith("died before any worker claimed it; nothing was run")


def elsewhere(run: RetrainingRun, lease_left: float) -> None:
    """The run's starter on another machine, its lease running out in `lease_left` seconds."""
    starter = {**run.starter, "host": "another-host.example"}
    until = timezone.now() + timedelta(seconds=lease_left)
    RetrainingRun.objects.filter(pk=run.pk).update(starter=starter, start_lease_until=until)


def test_a_starter_on_another_machine_holds_the_run_until_its_lease_runs_out(db, settings):
    settings.RUN_START_LEASE = 60
    run, _ = store.start_run(RetrainingRun.Trigger.API)
    elsewhere(run, lease_left=30)

    blocked, created = store.start_run(RetrainingRun.Trigger.API)
    assert (blocked.pk, created) == (run.pk, False)

    elsewhere(run, lease_left=-1)
    _, created = store.start_run(RetrainingRun.Trigger.API)

    assert created
    run.refresh_from_db()
    assert run.status == Status.FAILED
    assert "another-host.example" in run.error
    assert "within RUN_START_LEASE=60s" in run.error


def test_a_run_the_broker_holds_is_no_longer_its_starters_to_answer_for(db):
    run, _ = store.start_run(RetrainingRun.Trigger.API)
    store.handed_over(run.pk)
    RetrainingRun.objects.filter(pk=run.pk).update(starter={**run.starter, "pid": 999_999_999})

    blocked, created = store.start_run(RetrainingRun.Trigger.API)

    assert (blocked.pk, created) == (run.pk, False)
    assert RetrainingRun.objects.get(pk=run.pk).status == Status.QUEUED


def test_a_claimed_run_is_no_longer_its_starters_to_answer_for(db):
    run, _ = store.start_run(RetrainingRun.Trigger.CLI)
    assert store.claim(run.pk)

    assert RetrainingRun.objects.get(pk=run.pk).start_lease_until is None


def test_a_trigger_whose_broker_refuses_closes_its_run_and_answers_a_json_503(transactional_db):
    answer, printed = post_run_elsewhere(subprocess_env(REDIS_URL=WRONG_BROKER, RETRAIN_API_TOKEN="dead-runs-token"))

    assert answer["status"] == 503
    assert answer["type"] == "application/json"
    run = RetrainingRun.objects.get()
    assert answer["body"]["run"]["id"] == run.pk
    assert answer["body"]["run"]["status"] == "failed"
    assert run.status == Status.FAILED
    assert run.finished
    assert "the broker redis://***@127.0.0.1:1/0 refused the run" in run.error
    assert answer["body"]["detail"] == run.error
    assert "hunter2" not in printed + run.error

    _, created = store.start_run(RetrainingRun.Trigger.API)
    assert created


def test_a_broker_refusing_the_scheduled_run_closes_it_too_and_tells_the_team(db, monkeypatch, settings, mailoutbox):
    settings.NOTIFY_EMAILS = ["team@example.com"]

    def refused(*args, **kwargs):
        raise ConnectionRefusedError(111, "Connection refused")

    monkeypatch.setattr("retraining.tasks.retrain.delay", refused)

    assert tasks.scheduled_retrain("tick-1") == f"failed:{RetrainingRun.objects.get().pk}"

    run = RetrainingRun.objects.get()
    assert run.status == Status.FAILED
    assert "refused the run: ConnectionRefusedError: [Errno 111] Connection refused; nothing was run" in run.error
    assert store.active_run() is None
    assert run.notifications == {"email": "sent"}
    assert f"#{run.pk}" in mailoutbox[0].subject
    assert "refused the run" in mailoutbox[0].body
