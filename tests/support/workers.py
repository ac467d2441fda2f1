"""A Celery worker started by a test in a process group of its own, and waiting on it."""

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import psutil

from tests.support.processes import subprocess_env

ROOT = Path(__file__).resolve().parents[2]


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

    def __init__(self, tmp_path: Path, params: dict, **env: str) -> None:
        self.name = f"pool-test-{time.monotonic_ns()}@%h"
        self.log = tmp_path / f"{self.name}.log"
        env = subprocess_env(
            **{
                "TRAINING_PARAMS": json.dumps(params),
                "RUN_HEARTBEAT_INTERVAL": "0.5",
                "RUN_HEARTBEAT_TIMEOUT": "5",
                "WORKER_HEARTBEAT_INTERVAL": "0.5",
                **env,
            }
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
