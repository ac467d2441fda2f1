"""Processes a test starts: a free port, their environment, and waiting for a web process."""

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests
from django.conf import settings

# A penguin the demo champion classifies as Gentoo: the row end-to-end tests send.
PENGUIN = {
    "island": "Biscoe",
    "bill_length_mm": 48.6,
    "bill_depth_mm": 16.0,
    "flipper_length_mm": 230.0,
    "body_mass_g": 5800.0,
    "sex": "male",
    "year": 2009,
}
# A customer every churn demo champion says will leave: the row `make run`'s test sends.
CHURN_CUSTOMER = {
    "tenure_months": 3,
    "contract": "month-to-month",
    "monthly_charges": 104.5,
    "support_calls": 5,
    "internet": "fiber",
    "age": 41,
    "monthly_usage_gb": 80.0,
    "late_payments": 2,
    "region": "south",
}


def free_port() -> int:
    """A port nothing listens on now, for a server a test starts."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def subprocess_env(**extra: str) -> dict[str, str]:
    """Environment for a process started by a test: same VAR_DIR, same (test) database."""
    env = dict(os.environ)
    database = settings.DATABASES["default"]
    if database["ENGINE"].endswith("sqlite3"):
        env["DATABASE_URL"] = f"sqlite:///{database['NAME']}"
    else:
        user = database.get("USER") or "postgres"
        host = database.get("HOST") or "127.0.0.1"
        port = database.get("PORT") or 5432
        env["DATABASE_URL"] = f"postgres://{user}@{host}:{port}/{database['NAME']}"
    for name in ("MODEL_NAME", "DATA_REGISTRY", "DATA_PATH", "DATA_REMOTE", "TARGET_COLUMN", "DEMO_DATASET"):
        env[name] = str(getattr(settings, name))
    env["DATA_CACHE_DIR"] = str(settings.DATA_CACHE_DIR)
    env.update(extra)
    return env


def wait_healthy(base: str, process: subprocess.Popen, log: Path, seconds: float, interval: float = 0.5) -> None:
    """Wait until the app at `base` answers /healthz; fail with the end of `log` if the process
    that serves it exits first or it never answers."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the web process exited ({process.returncode}): {log.read_text()[-3000:]}")
        try:
            if requests.get(f"{base}/healthz", timeout=10).status_code == 200:
                return
        except (requests.ConnectionError, requests.Timeout):
            pass
        time.sleep(interval)
    pytest.fail(f"{base} never answered /healthz within {seconds:.0f}s: {log.read_text()[-3000:]}")


def manage(env: dict[str, str], *args: str) -> str:
    """`manage.py *args` as its own process with `env`; its output, or a failure showing its end."""
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, f"manage.py {' '.join(args)}: {done.stdout[-2000:]}{done.stderr[-3000:]}"
    return done.stdout


# POST /api/v1/runs through Django's test client, in a process of its own.
_POST_RUN = """
import json, os, django
django.setup()
from django.test import Client
token = os.environ["RETRAIN_API_TOKEN"]
response = Client().post("/api/v1/runs", HTTP_AUTHORIZATION=f"Bearer {token}", HTTP_HOST="localhost")
print(json.dumps({"status": response.status_code, "type": response["Content-Type"], "body": response.json()}))
"""


def post_run_elsewhere(env: dict[str, str]) -> tuple[dict[str, Any], str]:
    """POST /api/v1/runs by the app in a process of its own with `env` (a broker of its own, say),
    with RETRAIN_API_TOKEN as the bearer token: the answer, and everything the process printed."""
    done = subprocess.run(
        [sys.executable, "-c", _POST_RUN],
        cwd=settings.BASE_DIR,
        env={**env, "DJANGO_SETTINGS_MODULE": "config.settings"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1]), done.stdout + done.stderr


def wait_for(check: Callable[[], Any], seconds: float, what: str, interval: float = 0.25) -> Any:
    """The first truthy answer of `check`, asked every `interval` seconds; a failure naming `what` after `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if value := check():
            return value
        time.sleep(interval)
    pytest.fail(f"timed out after {seconds:.0f} s waiting for {what}")


def serves(base: str, version: str) -> bool:
    """Whether the web at `base` serves model `version` now."""
    answer = requests.get(f"{base}/api/v1/model", timeout=10)
    return answer.status_code == 200 and answer.json()["version"] == version


def signed_in(base: str, username: str, password: str) -> requests.Session:
    """A session of `username` signed in through the panel's login page of the web at `base`."""
    session = requests.Session()
    session.get(f"{base}/panel/login/", timeout=10)
    answer = session.post(
        f"{base}/panel/login/",
        data={"username": username, "password": password, "csrfmiddlewaretoken": session.cookies["csrftoken"]},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text[-1000:]
    assert "sessionid" in session.cookies, answer.text[-1000:]
    return session


@contextmanager
def gunicorn(env: dict[str, str], log: Path) -> Iterator[str]:
    """One gunicorn worker of the app on a free port, polling for a new champion twice a second;
    its URL once it answers, and the end of its log printed when it stops."""
    from tests.support.browser import start, stop

    port = free_port()
    process = start(
        [str(Path(sys.executable).parent / "gunicorn"), "config.wsgi", "--config", "config/gunicorn.py"],
        log,
        {**env, "PORT": str(port), "WEB_CONCURRENCY": "1", "MODEL_POLL_INTERVAL": "0.5"},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(base, process, log, 120)
        yield base
    finally:
        stop(process)
        print(f"--- web\n{log.read_text()[-2500:]}")
