"""`make run` from a copy of the repository: the quick start, for real."""

import os
import shutil
import signal
import subprocess
import time
import uuid
from pathlib import Path
from urllib.parse import urlparse

import pytest
import requests

from tests.support.processes import CHURN_CUSTOMER, free_port, wait_healthy

ROOT = Path(__file__).resolve().parents[1]


def descendants(pid: int) -> set[int]:
    found: set[int] = set()
    children = {pid}
    while children:
        parent = children.pop()
        out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(parent)], capture_output=True, text=True).stdout
        new = {int(p) for p in out.split()} - found
        found |= new
        children |= new
    return found


def alive(pids: set[int]) -> set[int]:
    still = set()
    for pid in pids:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            continue
        stat = Path(f"/proc/{pid}/stat")
        if stat.exists() and stat.read_text().split()[2] != "Z":
            still.add(pid)
    return still


def fresh_postgres_database(request: pytest.FixtureRequest, url: str) -> str:
    import psycopg

    parsed = urlparse(url)
    name = f"make_run_{uuid.uuid4().hex[:8]}"
    admin = parsed._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    request.addfinalizer(drop)
    return parsed._replace(path=f"/{name}").geturl()


def wait_for(url: str, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return True
        except (requests.ConnectionError, requests.Timeout):
            pass  # not listening yet, or still starting up on a loaded machine
        time.sleep(1)
    return False


@pytest.mark.slow
def worker_main_process(root: int) -> int | None:
    """The `celery worker` main process under `make run` (its parent is the respawn wrapper)."""
    table = subprocess.run(
        ["ps", "-ww", "-o", "pid=,ppid=,args=", "-p", ",".join(map(str, descendants(root)))],
        capture_output=True,
        text=True,
    ).stdout
    rows = {int(pid): (int(ppid), args) for pid, ppid, args in (line.split(None, 2) for line in table.splitlines())}
    for pid, (ppid, args) in rows.items():
        is_worker = "celery -A config worker" in args and "config.respawn" not in args
        if is_worker and "config.respawn" in rows.get(ppid, (0, ""))[1]:
            return pid
    return None


def test_make_run_serves_the_first_champion_survives_a_killed_worker_and_ctrl_c_stops_everything(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    copy = tmp_path / "app"
    shutil.copytree(
        ROOT,
        copy,
        ignore=shutil.ignore_patterns(
            ".venv", ".venv-mlflow-ui", "var", ".git", "__pycache__", "staticfiles", ".*_cache"
        ),
    )
    # Reuse the installed environments: the copy is about starting the product, not pip. The MLflow
    # UI's own virtualenv is installed here once (a minute or two), as its process would.
    (copy / ".venv").symlink_to(ROOT / ".venv")
    subprocess.run([ROOT / ".venv" / "bin" / "python", ROOT / "manage.py", "mlflow_ui", "--install-only"], check=True)
    (copy / ".venv-mlflow-ui").symlink_to(ROOT / ".venv-mlflow-ui")
    port, mlflow_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if k not in {"VAR_DIR", "MLFLOW_TRACKING_URI", "DATA_REGISTRY"}}
    env.update(PORT=str(port), MLFLOW_PORT=str(mlflow_port), DJANGO_SUPERUSER_PASSWORD="pw-admin-123")
    if env.get("DATABASE_URL"):
        # The production column: PostgreSQL (a database of this test's own) and Redis as given.
        env["DATABASE_URL"] = fresh_postgres_database(request, env["DATABASE_URL"])
    started = time.monotonic()
    make = subprocess.Popen(
        ["make", "run"],
        cwd=copy,
        env=env,
        stdout=open(tmp_path / "make-run.log", "w"),  # noqa: SIM115
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_healthy(base, make, tmp_path / "make-run.log", 420, interval=1)
        cold_start = time.monotonic() - started

        answer = requests.post(f"{base}/api/v1/predict", json={"instances": [CHURN_CUSTOMER]}, timeout=10)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["predictions"] == ["yes"]  # the churn demo is the default
        assert answer.headers["X-Model-Version"] == body["model"]["version"] == "1"

        # web, worker, beat and the MLflow UI all run.
        time.sleep(3)
        commands = subprocess.run(
            ["ps", "-o", "args=", "-p", ",".join(map(str, descendants(make.pid)))], capture_output=True, text=True
        ).stdout
        assert "gunicorn" in commands
        assert "celery -A config worker" in commands
        assert "celery -A config beat" in commands
        assert wait_for(f"http://127.0.0.1:{mlflow_port}/health", 90), "the MLflow UI never answered"
        print(f"make run cold start: {cold_start:.1f}s")

        # A worker killed outright is started again; web, beat and predictions carry on.
        killed = worker_main_process(make.pid)
        assert killed is not None, commands
        os.kill(killed, signal.SIGKILL)
        deadline = time.monotonic() + 60
        while (worker_main_process(make.pid) in (None, killed)) and time.monotonic() < deadline:
            answer = requests.post(f"{base}/api/v1/predict", json={"instances": [CHURN_CUSTOMER]}, timeout=10)
            assert answer.status_code == 200, answer.text
            time.sleep(0.5)
        assert worker_main_process(make.pid) not in (None, killed), "the worker was not started again"
        assert make.poll() is None
        log = (tmp_path / "make-run.log").read_text()
        assert f"(pid {killed}) killed by SIGKILL: starting it again" in log
        assert "MLflow UI: up at" in log
    finally:
        before = descendants(make.pid) | {make.pid}
        os.killpg(make.pid, signal.SIGINT)
        try:
            make.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(make.pid, signal.SIGKILL)
            raise
        deadline = time.monotonic() + 30
        while alive(before) and time.monotonic() < deadline:
            time.sleep(0.5)
    assert not alive(before), "processes left after Ctrl-C"
