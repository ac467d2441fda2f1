"""Fixtures for the pipeline's tests: publishing data versions and running the pipeline in-process."""

import json
import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import psutil
import pytest
from django.conf import settings

from config.celery import app
from predictor.serving import holder
from retraining import data, demo, pipeline, runs
from retraining.models import RetrainingRun
from tests.conftest import subprocess_env

WEAK_PARAMS = {"n_estimators": 1, "max_depth": 1}
GOOD_PARAMS = {"n_estimators": 30}
ROOT = Path(__file__).resolve().parents[2]
# The worker as the Procfile runs it: prefork, one pool process.


def publish_frame(frame: pd.DataFrame, message: str = "Publish a test version") -> data.DatasetVersion:
    with tempfile.TemporaryDirectory() as tmp:
        csv_file = Path(tmp) / "data.csv"
        frame.to_csv(csv_file, index=False)
        return data.publish(settings.DATA_REGISTRY, settings.DATA_PATH, csv_file, message)


def publish_batch(batch: int) -> data.DatasetVersion:
    return publish_frame(demo.demo_frame(batch), f"Publish demo batch {batch}")


def run_pipeline(trigger: str = RetrainingRun.Trigger.CLI, **options) -> RetrainingRun:
    run, created = runs.start_run(trigger)
    assert created, f"run #{run.pk} was still {run.status}"
    return pipeline.execute(run.pk, **options)


@pytest.fixture
def weak_champion(transactional_db, demo_registry, model_name, served_model, settings):
    """A champion crippled on purpose (one stump) on batch 1, so a normal challenger beats it."""
    settings.TRAINING_PARAMS = WEAK_PARAMS
    run = run_pipeline(RetrainingRun.Trigger.BOOTSTRAP)
    assert run.status == RetrainingRun.Status.DEPLOYED, (run.error, run.reasons)
    settings.TRAINING_PARAMS = GOOD_PARAMS
    holder().sync()
    return run.deployment


@pytest.fixture
def good_champion(transactional_db, demo_registry, model_name, served_model, settings):
    settings.TRAINING_PARAMS = GOOD_PARAMS
    run = run_pipeline(RetrainingRun.Trigger.BOOTSTRAP)
    assert run.status == RetrainingRun.Status.DEPLOYED, (run.error, run.reasons)
    holder().sync()
    return run.deployment


def wait_until(check: Callable[[], object], seconds: float, what: str) -> object:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if value := check():
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {seconds:.0f} s waiting for {what}")


WORKER = [str(ROOT / ".venv/bin/celery"), "-A", "config", "worker", "--concurrency=1", "--loglevel=INFO"]
WORKER += ["--without-gossip", "--without-mingle"]


class PoolWorker:
    """`celery worker` in a process group of its own, and its pool process."""

    def __init__(self, tmp_path: Path, params: dict) -> None:
        self.name = f"pool-test-{time.monotonic_ns()}@%h"
        self.log = tmp_path / f"{self.name}.log"
        env = subprocess_env(
            TRAINING_PARAMS=json.dumps(params),
            RUN_HEARTBEAT_INTERVAL="0.5",
            RUN_HEARTBEAT_TIMEOUT="5",
            WORKER_HEARTBEAT_INTERVAL="0.5",
        )
        self.process = subprocess.Popen(
            [*WORKER, "-n", self.name],
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


@pytest.fixture
def start_pool_worker(tmp_path) -> Iterator[Callable[[dict], PoolWorker]]:
    app.control.purge()
    started: list[PoolWorker] = []

    def start(params: dict) -> PoolWorker:
        started.append(PoolWorker(tmp_path, params))
        return started[-1]

    yield start
    for worker in started:
        worker.stop()
