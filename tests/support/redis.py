"""A redis-server of a test's own on a free port: one it may stop, never the shared one."""

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest


def start_redis(directory: Path, *options: str) -> subprocess.Popen:
    """redis-server in a process group of its own, with `options` saying where it listens
    (`--port N`, or `--port 0 --tls-port N ...`); returned once that port accepts connections."""
    if not shutil.which("redis-server"):
        pytest.skip("redis-server is needed for a Redis of the test's own")
    port = int(options[options.index("--tls-port") + 1] if "--tls-port" in options else options[1])
    log = directory / f"redis-{port}.log"
    server = subprocess.Popen(
        ["redis-server", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(directory), *options],
        stdout=log.open("a"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return server
        assert server.poll() is None, log.read_text()
        time.sleep(0.1)
    stop_redis(server)
    raise AssertionError(f"redis-server never listened on {port}: {log.read_text()}")


def stop_redis(server: subprocess.Popen) -> None:
    """Kill it at once, as a crash or a lost host would."""
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGKILL)
    server.wait(timeout=10)
