"""The worker as the Procfile runs it (prefork, one pool process), its pool process SIGKILLed.

Runs on the suite's broker: the filesystem transport on the embedded defaults, Redis when
REDIS_URL is set (CI runs the suite both ways).
"""

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest

from config.celery import app
from retraining import services
from retraining.models import RetrainingRun
from tests.conftest import subprocess_env
from tests.retraining.conftest import GOOD_PARAMS, publish_batch

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
Status = RetrainingRun.Status
# Several seconds of fitting: long enough to be caught in the middle of it.
SLOW_PARAMS = {"n_estimators": 3000}
WORKER = [str(ROOT / ".venv/bin/celery"), "-A", "config", "worker", "--concurrency=1", "--loglevel=INFO"]
WORKER += ["--without-gossip", "--without-mingle"]


def wait_until(check: Callable[[], object], seconds: float, what: str) -> object:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if value := check():
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {seconds:.0f} s waiting for {what}")


class Worker:
    """`celery worker` in a process group of its own, and its pool process."""

    def __init__(self, tmp_path: Path, params: dict) -> None:
        self.log = tmp_path / "worker.log"
        env = subprocess_env(
            TRAINING_PARAMS=json.dumps(params), RUN_HEARTBEAT_INTERVAL="0.5", RUN_HEARTBEAT_TIMEOUT="5"
        )
        self.process = subprocess.Popen(
            [*WORKER, "-n", f"pool-test-{os.getpid()}@%h"],
            cwd=ROOT,
            env=env,
            stdout=self.log.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_until(lambda: " ready." in self.log.read_text(), 60, f"the worker to start ({self.log})")

    def pool_process(self) -> psutil.Process:
        children = wait_until(lambda: psutil.Process(self.process.pid).children(), 30, f"a pool process ({self.log})")
        assert len(children) == 1, children
        return children[0]

    def kill_pool_process(self) -> None:
        """SIGKILL the pool process (as the OOM killer would) and wait for its replacement."""
        doomed = self.pool_process()
        doomed.send_signal(signal.SIGKILL)
        doomed.wait(10)
        replacement = self.pool_process()
        assert replacement.pid != doomed.pid

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        for child in psutil.Process().children(recursive=True):
            if child.pid != self.process.pid and os.getpgid(child.pid) == self.process.pid:
                child.kill()


@pytest.fixture
def start_worker(tmp_path) -> Iterator[Callable[[dict], Worker]]:
    app.control.purge()
    started: list[Worker] = []

    def start(params: dict) -> Worker:
        started.append(Worker(tmp_path, params))
        return started[-1]

    yield start
    for worker in started:
        worker.stop()


def trigger(django_capture_on_commit_callbacks) -> RetrainingRun:
    with django_capture_on_commit_callbacks(execute=True):
        run, created = services.trigger_run(RetrainingRun.Trigger.API)
    assert created, f"run #{run.pk} was still {run.status}"
    return run


def finished(run: RetrainingRun, worker: Worker, seconds: float = 180) -> RetrainingRun:
    wait_until(
        lambda: RetrainingRun.objects.get(pk=run.pk).finished,
        seconds,
        f"the worker to finish run #{run.pk} (log: {worker.log})",
    )
    run.refresh_from_db()
    return run


def test_it_goes_on_consuming_after_its_idle_pool_process_is_killed(
    weak_champion, start_worker, django_capture_on_commit_callbacks
):
    publish_batch(2)
    worker = start_worker(GOOD_PARAMS)
    worker.kill_pool_process()

    run = finished(trigger(django_capture_on_commit_callbacks), worker, 120)

    assert run.status == Status.DEPLOYED, (run.error, run.reasons)


def test_it_goes_on_consuming_after_its_pool_process_is_killed_mid_run(
    weak_champion, start_worker, settings, django_capture_on_commit_callbacks
):
    """The killed run waits for the stale-run sweep (5 s here); the same worker runs the next one."""
    settings.RUN_HEARTBEAT_TIMEOUT = 5
    publish_batch(2)
    worker = start_worker(SLOW_PARAMS)
    doomed = trigger(django_capture_on_commit_callbacks)
    wait_until(
        lambda: RetrainingRun.objects.get(pk=doomed.pk).step == "train", 120, f"training to start ({worker.log})"
    )
    worker.kill_pool_process()
    time.sleep(settings.RUN_HEARTBEAT_TIMEOUT + 1)

    following = finished(trigger(django_capture_on_commit_callbacks), worker)

    doomed.refresh_from_db()
    assert doomed.status == Status.FAILED
    assert following.status == Status.DEPLOYED, (following.error, following.reasons)
