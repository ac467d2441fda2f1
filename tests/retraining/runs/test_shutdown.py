"""A worker told to stop (SIGTERM) mid-training closes its run and queues it again; never half deploys."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from unittest import mock

import pytest

from predictor.models import Deployment
from retraining import services
from retraining.models import RetrainingRun
from retraining.pipeline import flow
from retraining.runs import shutdown
from retraining.runs.recorder import Recorder
from tests.support.processes import subprocess_env

ROOT = Path(__file__).resolve().parents[3]
Status = RetrainingRun.Status


def procfile_command(name: str) -> str:
    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.startswith(f"{name}:"):
            return line.partition(":")[2].strip()
    raise AssertionError(f"no {name} in the Procfile")


def position_in(step: str, status: str = "running") -> tuple[int | None, str | None]:
    steps = [{"name": "check", "status": "done"}, {"name": step, "status": status}]
    with Recorder(SimpleNamespace(pk=7, steps=steps, attempts=[]), print, flow.interruptible()).working():
        return shutdown.where_to_stop(sys._getframe())


@pytest.mark.parametrize("step", ["check", "pull", "validate", "train", "compare"])
def test_a_run_may_be_stopped_in_any_step_before_deploy(step: str) -> None:
    assert position_in(step) == (7, step)


@pytest.mark.parametrize(("step", "status"), [("deploy", "running"), ("deploy", "done"), ("notify", "running")])
def test_a_stop_waits_while_a_model_is_being_deployed_or_after(step: str, status: str) -> None:
    run_id, reason = position_in(step, status)
    assert run_id is None
    assert step in reason


def test_a_stop_waits_while_a_database_call_is_in_progress() -> None:
    """The failure is recorded over the same connection: it must not be cut mid-query."""
    run = SimpleNamespace(pk=7, steps=[{"name": "train", "status": "running"}], attempts=[])
    recorder = Recorder(run, print, flow.interruptible())
    namespace: dict = {}
    exec(
        compile("def execute(call):\n    return call()\n", "/site-packages/django/db/backends/utils.py", "exec"),
        namespace,
    )
    with recorder.working():
        run_id, reason = namespace["execute"](lambda: shutdown.where_to_stop(sys._getframe()))
    assert (run_id, reason) == (None, "inside a database call")
    assert recorder.steps


def test_a_stop_waits_while_outside_any_run() -> None:
    assert shutdown.where_to_stop(sys._getframe()) == (None, "no step has started")


def test_a_stopped_run_is_queued_again_once_whoever_sweeps_it(
    db, staff_user, django_capture_on_commit_callbacks
) -> None:
    from retraining.runs import store

    stopped, _ = store.start_run(RetrainingRun.Trigger.MANUAL, staff_user)
    store.claim(stopped.pk)
    error = str(shutdown.WorkerStopped("SIGTERM", "train"))
    store.finish(stopped, Status.FAILED, error=f"WorkerStopped: {error}", stopped_by_signal="SIGTERM")
    other, _ = store.start_run(RetrainingRun.Trigger.API)
    store.finish(other, Status.FAILED, error="ValueError: bad data")

    with mock.patch("retraining.tasks.retrain.delay") as enqueue, django_capture_on_commit_callbacks(execute=True):
        first = services.requeue_stopped_runs()
        second = services.requeue_stopped_runs()

    assert len(first) == 1
    assert second == []
    again = RetrainingRun.objects.get(pk=first[0])
    assert (again.status, again.trigger, again.triggered_by) == (Status.QUEUED, "manual", staff_user)
    enqueue.assert_called_once_with(again.pk)
    stopped.refresh_from_db()
    assert stopped.reasons[-1] == f"queued again as run #{again.pk}"


def start_worker(log: Path, **env: str) -> subprocess.Popen:
    return subprocess.Popen(
        # As a dyno runs it: bash -c, which execs a single command (signals reach celery itself).
        ["bash", "-c", procfile_command("worker")],
        cwd=ROOT,
        env=subprocess_env(
            RUN_HEARTBEAT_INTERVAL="1", PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}", **env
        ),
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def wait_until(condition, seconds: float, what: str, log: Path, process: subprocess.Popen) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and process.poll() is None:
        if condition():
            return
        time.sleep(0.5)
    pytest.fail(f"{what} within {seconds}s; worker log:\n" + log.read_text()[-4000:])


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)


@pytest.mark.slow
def test_a_worker_stopped_mid_training_closes_the_run_and_the_next_worker_runs_it_again(
    champion, demo_registry, settings, tmp_path: Path
) -> None:
    from demo import batches

    batches.publish_next_demo_batch(demo_registry, settings.DATA_PATH)
    # Long enough that the stop lands in the middle of fitting; the run queued again trains the same
    # setup to the end, so not much longer than that.
    settings.TRAINING_PARAMS = {"n_estimators": 3_000}
    run, created = services.trigger_run(RetrainingRun.Trigger.API)
    assert created

    first_log, second_log = tmp_path / "worker-1.log", tmp_path / "worker-2.log"
    first = start_worker(first_log)
    try:
        wait_until(
            lambda: RetrainingRun.objects.filter(pk=run.pk, status=Status.RUNNING, step="train").exists(),
            120,
            "the run never reached training",
            first_log,
            first,
        )
        time.sleep(2)
        stopped_at = time.monotonic()
        # What `docker stop` does: SIGTERM to the first process only (Heroku signals them all).
        first.send_signal(signal.SIGTERM)
        assert first.wait(timeout=30) == 0, first_log.read_text()[-4000:]
        assert time.monotonic() - stopped_at < 30
    finally:
        stop(first)

    run.refresh_from_db()
    assert run.status == Status.FAILED
    assert run.active is None
    assert "stopped (SIGTERM) during step 'train'" in run.error
    assert run.stopped_by_signal == "SIGTERM"
    assert [s["status"] for s in run.steps if s["name"] == "train"] == ["failed"]
    assert Deployment.objects.count() == 1
    again = RetrainingRun.objects.exclude(pk=run.pk).get(trigger=RetrainingRun.Trigger.API)
    assert again.status == Status.QUEUED
    assert (again.setup, again.params) == (run.setup, {"n_estimators": 3_000})
    assert run.reasons[-1] == f"queued again as run #{again.pk}"
    assert run.requeued_as == again

    second = start_worker(second_log)
    try:
        wait_until(
            lambda: RetrainingRun.objects.filter(pk=again.pk, active=None).exists(),
            180,
            "the next worker never finished the queued run",
            second_log,
            second,
        )
        again.refresh_from_db()
        assert again.status in {Status.DEPLOYED, Status.KEPT}, (again.error, again.reasons)
        assert [s["name"] for s in again.steps][:5] == ["check", "pull", "validate", "train", "compare"]
        # Idle, it stops at once.
        second.send_signal(signal.SIGTERM)
        assert second.wait(timeout=30) == 0
    finally:
        stop(second)
