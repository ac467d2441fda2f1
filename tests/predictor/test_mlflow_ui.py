"""The MLflow UI of `make run` runs from a virtualenv of its own (predictor/mlflow_ui.py)."""

import os
import signal
import subprocess
import threading
import time
from pathlib import Path

from predictor import mlflow_ui
from tests.support.processes import free_port


def test_the_ui_virtualenv_counts_as_installed_only_for_todays_requirements(tmp_path: Path) -> None:
    venv = tmp_path / "ui"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "mlflow").touch()
    assert not mlflow_ui.installed(venv)
    (venv / ".installed").write_text(mlflow_ui._digest())
    assert mlflow_ui.installed(venv)
    (venv / ".installed").write_text("the digest of an older requirements-mlflow-ui.txt")
    assert not mlflow_ui.installed(venv)


def test_a_failed_install_keeps_the_ui_process_up_until_it_is_told_to_stop(monkeypatch, tmp_path: Path) -> None:
    """Under honcho a process that exits stops every other one: the API must not go down with the UI."""

    def fail(venv: Path) -> None:
        raise subprocess.CalledProcessError(1, ["pip", "install"])

    monkeypatch.setattr(mlflow_ui, "install", fail)
    lines: list[str] = []
    handlers = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    stop = threading.Timer(1.5, os.kill, (os.getpid(), signal.SIGTERM))
    started = time.monotonic()
    stop.start()
    try:
        assert mlflow_ui.run("127.0.0.1", free_port(), lines.append, venv=tmp_path / "ui") == 0
    finally:
        stop.cancel()
        signal.signal(signal.SIGTERM, handlers[0])
        signal.signal(signal.SIGINT, handlers[1])
    assert time.monotonic() - started >= 1.4
    assert lines[0].startswith("installing the MLflow UI into ui (requirements-mlflow-ui.txt)")
    assert "the install failed" in lines[-1]
    assert "the app runs on without the UI" in lines[-1]
