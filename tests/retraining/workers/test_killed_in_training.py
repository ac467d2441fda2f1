"""The pipeline run by a real Celery worker process, killed with SIGKILL in the middle of training."""

import json
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from config.celery import app
from predictor.models import Deployment
from predictor.serving import registry
from predictor.serving.holder import holder
from retraining import services
from retraining.models import RetrainingRun
from retraining.runs import store
from tests.support.pipeline import GOOD_PARAMS, publish_batch
from tests.support.processes import subprocess_env

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[3]
Status = RetrainingRun.Status
# Slow enough (several seconds of fitting) to be caught in the middle of it.
SLOW_PARAMS = {"n_estimators": 4000}
# Solo pool: the task runs in the worker process itself, so SIGKILL leaves no orphan child behind.
WORKER = [str(ROOT / ".venv/bin/celery"), "-A", "config", "worker", "--pool=solo", "--loglevel=INFO"]


def wait_until(check: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {seconds:.0f} s waiting for {what}")


@pytest.fixture
def start_worker(tmp_path) -> Iterator[Callable[[dict], subprocess.Popen]]:
    """Starts `celery -A config worker` on this test's database, broker, MLflow store and registry."""
    app.control.purge()
    started: list[subprocess.Popen] = []

    def start(params: dict) -> subprocess.Popen:
        env = subprocess_env(
            TRAINING_PARAMS=json.dumps(params), RUN_HEARTBEAT_INTERVAL="0.5", RUN_HEARTBEAT_TIMEOUT="5"
        )
        log = (tmp_path / f"worker-{len(started)}.log").open("wb")
        proc = subprocess.Popen(
            [*WORKER, "-n", f"pipeline-test-{len(started)}@%h"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def trigger(django_capture_on_commit_callbacks) -> RetrainingRun:
    with django_capture_on_commit_callbacks(execute=True):
        run, created = services.trigger_run(RetrainingRun.Trigger.API)
    assert created, f"run #{run.pk} was still {run.status}"
    return run


def test_a_worker_killed_during_training_fails_the_run_and_the_next_run_deploys(
    weak_champion, start_worker, settings, django_capture_on_commit_callbacks, tmp_path
):
    settings.RUN_HEARTBEAT_TIMEOUT = 5
    publish_batch(2)
    worker = start_worker(SLOW_PARAMS)
    doomed = trigger(django_capture_on_commit_callbacks)

    wait_until(
        lambda: RetrainingRun.objects.get(pk=doomed.pk).step == "train",
        120,
        f"the worker to start training (log: {tmp_path})",
    )
    time.sleep(0.5)
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=10)
    assert RetrainingRun.objects.get(pk=doomed.pk).status == Status.RUNNING
    time.sleep(settings.RUN_HEARTBEAT_TIMEOUT + 1)

    start_worker(GOOD_PARAMS)
    settings.TRAINING_PARAMS = GOOD_PARAMS
    following = trigger(django_capture_on_commit_callbacks)

    doomed.refresh_from_db()
    assert doomed.status == Status.FAILED
    assert "during step 'train'" in doomed.error
    assert Deployment.objects.first() == weak_champion
    wait_until(
        lambda: RetrainingRun.objects.get(pk=following.pk).finished,
        180,
        f"the second worker to finish run #{following.pk} (log: {tmp_path})",
    )
    following.refresh_from_db()
    assert following.status == Status.DEPLOYED, (following.error, following.reasons)
    assert registry.champion_version() == following.model_version
    holder().sync()
    assert holder().current.version == following.model_version
    assert store.active_run() is None
