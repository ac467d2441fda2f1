"""A real gunicorn serving the app on a free port of 127.0.0.1, and a bounded load loop against it."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

from tests.support.processes import free_port, subprocess_env, wait_healthy

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Server:
    process: subprocess.Popen
    url: str
    log: Path

    def worker_names(self) -> set[str]:
        """ServingProcess names of the live workers (children of the master)."""
        children = set()
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == self.process.pid:
                children.add(f"{socket.gethostname()}:{stat.parent.name}")
        return children

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start(tmp_dir: Path, workers: int = 2, **env: str) -> Server:
    port = free_port()
    log = tmp_dir / f"gunicorn-{port}.log"
    environment = subprocess_env(
        MODEL_POLL_INTERVAL="0.5",
        REGISTRY_SYNC_INTERVAL="1",
        WEB_CONCURRENCY=str(workers),
        PORT=str(port),
        **env,
    )
    command = [sys.executable, "-m", "gunicorn", "config.wsgi:application", "-c", "config/gunicorn.py"]
    command += ["--bind", f"127.0.0.1:{port}"]
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=ROOT, env=environment, stdout=out, stderr=subprocess.STDOUT)
    server = Server(process, f"http://127.0.0.1:{port}", log)
    try:
        wait_healthy(server.url, process, log, 120, interval=0.2)
    except BaseException:
        server.stop()
        raise
    return server


@dataclass(frozen=True)
class Answer:
    started: float
    finished: float
    status: int
    version: str
    error: str = ""


@dataclass
class LoadLoop:
    """Clients posting one row each, back to back, until stopped (bounded in count and time)."""

    url: str
    body: dict
    clients: int = 4
    max_requests: int = 5000
    max_seconds: float = 180.0
    answers: list[Answer] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)

    def __enter__(self) -> LoadLoop:
        for _ in range(self.clients):
            thread = threading.Thread(target=self._run, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)
        settle_log()

    def _run(self) -> None:
        session = requests.Session()
        ends_at = time.monotonic() + self.max_seconds
        for _ in range(self.max_requests):
            if self._stop.is_set() or time.monotonic() > ends_at:
                return
            started = time.monotonic()
            try:
                response = session.post(f"{self.url}/api/v1/predict", json=self.body, timeout=30)
                answer = Answer(started, time.monotonic(), response.status_code, response.headers["X-Model-Version"])
            except requests.RequestException as exc:
                answer = Answer(started, time.monotonic(), 0, "", str(exc))
            self.answers.append(answer)


def settle_log(quiet: float = 1.0, bound: float = 15.0) -> None:
    """Wait until the servers' prediction log writers are done with the answers given: no new row for
    `quiet` seconds (a writer wakes every half second). A flush at a test's end truncating every
    table while a writer's transaction holds the log's table and waits for a rollup's can deadlock
    on PostgreSQL; the answers' rows are written before the test goes on."""
    from predictor.models import Prediction

    deadline = time.monotonic() + bound
    seen, since = Prediction.objects.count(), time.monotonic()
    while time.monotonic() - since < quiet and time.monotonic() < deadline:
        time.sleep(0.1)
        now = Prediction.objects.count()
        if now != seen:
            seen, since = now, time.monotonic()


def clean_database() -> None:
    """Rows a server wrote after the last test's flush (it keeps syncing until stopped)."""
    from predictor.models import Deployment, LoggedVersion, Prediction, ServingProcess

    ServingProcess.objects.all().delete()
    Deployment.objects.all().delete()
    Prediction.objects.all().delete()
    LoggedVersion.objects.all().delete()
