"""The MLflow UI of `make run`, served from a virtualenv of its own.

The app's processes need only the MLflow client (mlflow-skinny, requirements.txt). The UI needs
the full mlflow package (its JavaScript, Flask, graphene, matplotlib: requirements-mlflow-ui.txt),
about a quarter of a first install. So the UI process installs that virtualenv itself, beside
the web, worker and beat that already run: the first prediction never waits for it.

honcho stops every process when one exits: while it installs, and when an install fails, the UI
process stays up (saying so) and ends only when it is told to stop.
"""

import hashlib
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType

import requests
from django.conf import settings

VENV = settings.BASE_DIR / ".venv-mlflow-ui"
REQUIREMENTS = settings.BASE_DIR / "requirements-mlflow-ui.txt"


def _digest() -> str:
    return hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()


def installed(venv: Path = VENV) -> bool:
    """Whether `venv` holds the packages requirements-mlflow-ui.txt names today."""
    marker = venv / ".installed"
    return (venv / "bin" / "mlflow").exists() and marker.is_file() and marker.read_text() == _digest()


def install(venv: Path = VENV) -> None:
    """Create `venv` and install requirements-mlflow-ui.txt into it (CalledProcessError if pip fails).

    The app's own pip installs into it (no second pip to install or upgrade), at a lower priority:
    on a small machine the app's processes start at the same time.
    """
    if not (venv / "bin" / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    pip = [sys.executable, "-m", "pip", "--python", python, "install", "--quiet", "-r", str(REQUIREMENTS)]
    subprocess.run(["nice", "-n", "10", *pip], check=True)
    (venv / ".installed").write_text(_digest())


def server_command(mlflow: Path, host: str, port: int) -> list[str]:
    """`mlflow server` over the app's own tracking store and registry."""
    return [
        str(mlflow),
        "server",
        "--backend-store-uri",
        settings.MLFLOW_TRACKING_URI,
        "--registry-store-uri",
        settings.MLFLOW_REGISTRY_URI,
        "--host",
        host,
        "--port",
        str(port),
        "--workers",
        "1",
    ]


def run(host: str, port: int, say: Callable[[str], None], venv: Path = VENV) -> int:
    """Install the UI's virtualenv if needed, then serve the UI until told to stop; the exit status."""
    stopping: list[int] = []
    child: subprocess.Popen | None = None

    def stop(signum: int, frame: FrameType | None) -> None:
        stopping.append(signum)
        if child is not None and child.poll() is None:
            child.send_signal(signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    started = time.monotonic()
    if not installed(venv):
        say(f"installing the MLflow UI into {venv.name} ({REQUIREMENTS.name}); the app does not wait for it")
        try:
            install(venv)
        except subprocess.CalledProcessError as error:
            if stopping:
                return 0
            say(f"the install failed ({error}); the app runs on without the UI. Start again to retry.")
            while not stopping:
                time.sleep(0.5)
            return 0
        say(f"installed in {time.monotonic() - started:.0f} s")
    if stopping:
        return 0
    child = subprocess.Popen(server_command(venv / "bin" / "mlflow", host, port))
    url = f"http://{host}:{port}/"
    while child.poll() is None and not stopping:
        try:
            if requests.get(f"{url}health", timeout=2).ok:
                say(f"up at {url} ({time.monotonic() - started:.0f} s after this process started)")
                break
        except (requests.ConnectionError, requests.Timeout):
            pass  # still starting
        time.sleep(0.5)
    return child.wait()
