"""Fixtures of the run lifecycle's tests."""

import subprocess
import sys

import psutil
import pytest


@pytest.fixture
def dead_process() -> dict:
    """The owner fields of a process that has exited."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    started = psutil.Process(child.pid).create_time()
    child.wait()
    return {"pid": child.pid, "process_started": started}
