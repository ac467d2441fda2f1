"""Run a command and start it again whenever it dies: how `make run` keeps its worker.

honcho stops every process when one exits, so a worker killed by hand or by the OOM killer
would take the web process (and the prediction API) down with it. Under this wrapper the
worker is restarted instead, loudly, and the others keep running. A stop request (SIGTERM or
SIGINT, as honcho and Ctrl-C send) is passed on and ends the wrapper once the command exits.

    python -m config.respawn celery -A config worker ...
"""

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

# After a crash, wait this long before starting again, doubling up to the maximum while the
# command keeps dying young (a broken install should not spin the CPU).
FIRST_DELAY = 1.0
MAX_DELAY = 30.0
# A command that ran this long before dying starts again after FIRST_DELAY.
HEALTHY_AFTER = 60.0


def say(message: str) -> None:
    print(f"respawn: {message}", file=sys.stderr, flush=True)


def describe(returncode: int) -> str:
    if returncode < 0:
        return f"killed by {signal.Signals(-returncode).name}"
    return f"exited with status {returncode}"


def run(command: list[str]) -> int:
    stopping: list[int] = []
    child: subprocess.Popen | None = None

    def stop(signum: int, frame: FrameType | None) -> None:
        stopping.append(signum)
        if child is not None and child.poll() is None:
            os.kill(child.pid, signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    delay = FIRST_DELAY
    while True:
        started = time.monotonic()
        # In this process group, so that whoever stops the group (honcho) stops the command too.
        child = subprocess.Popen(command)
        if stopping:  # asked to stop while it was being started
            os.kill(child.pid, stopping[0])
        returncode = child.wait()
        _stop_leftovers()
        if stopping:
            return _status(returncode)
        delay = FIRST_DELAY if time.monotonic() - started > HEALTHY_AFTER else min(delay * 2, MAX_DELAY)
        say("!" * 72)
        say(f"{' '.join(command[:4])} (pid {child.pid}) {describe(returncode)}: starting it again in {delay:.0f} s")
        say("!" * 72)
        deadline = time.monotonic() + delay
        while not stopping and time.monotonic() < deadline:
            time.sleep(0.1)
        if stopping:
            return _status(returncode)


def _status(returncode: int) -> int:
    """The shell's convention: 128 + N for a command killed by signal N."""
    return returncode if returncode >= 0 else 128 - returncode


def _stop_leftovers() -> None:
    """Kill what the dead command left in this process group (a worker's pool processes)."""
    spared = {os.getpid()}
    pid = os.getppid()
    while pid > 1 and pid not in spared:  # this wrapper's own parents (the shell honcho started)
        spared.add(pid)
        pid = _parent(pid)
    for proc in Path("/proc").glob("[0-9]*"):
        pid = int(proc.name)
        with contextlib.suppress(OSError):
            if pid not in spared and os.getpgid(pid) == os.getpgrp():
                os.kill(pid, signal.SIGKILL)


def _parent(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return 1


def main() -> None:
    if len(sys.argv) < 2:
        sys.exit("usage: python -m config.respawn COMMAND [ARGS...]")
    sys.exit(run(sys.argv[1:]))


if __name__ == "__main__":
    main()
