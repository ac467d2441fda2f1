"""Processes a test starts: a free port, their environment, and waiting for a web process."""

import os
import socket
import subprocess
import time
from pathlib import Path

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
