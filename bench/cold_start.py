"""Cold start of `make run` from an existing .venv: seconds until the first answered prediction.

Copies the repository (without .venv, var/ or .git) to a temporary folder, links the existing
.venv into it, starts `make run` there on free ports in a process group of its own, stamps every
line it prints with the time since the start, and posts the README's customer to
/api/v1/predict until it is answered. Then stops the whole group and prints where the time went:
migrate, collectstatic, bootstrap (demo registry and the first champion, trained through the
pipeline), and the processes' start until the web process answers. Nothing is installed.

Usage: .venv/bin/python bench/cold_start.py [--runs 2] [--root OTHER_CHECKOUT]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CUSTOMER = {
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
# (phase, the first line of make's output at which it starts); the phases run in this order.
MARKS = (
    ("migrate", "manage.py migrate"),
    ("collectstatic", "manage.py collectstatic"),
    ("bootstrap: Django start, demo registry", "manage.py bootstrap"),
    ("bootstrap: first champion (pipeline run)", "no champion yet"),
    ("processes start, web loads the champion", "honcho start"),
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def one_start(root: Path) -> tuple[float, list[tuple[float, str]]]:
    """(seconds to the first answered prediction, make's output lines with their times)."""
    import requests

    with tempfile.TemporaryDirectory(prefix="cold-start-") as tmp:
        copy = Path(tmp) / "app"
        shutil.copytree(
            root, copy, ignore=shutil.ignore_patterns(".venv", "var", ".git", "__pycache__", "staticfiles", ".*_cache")
        )
        (copy / ".venv").symlink_to((root / ".venv").resolve())
        port, mlflow_port = free_port(), free_port()
        env = {k: v for k, v in os.environ.items() if k not in {"VAR_DIR", "MLFLOW_TRACKING_URI", "DATA_REGISTRY"}}
        env.update(PORT=str(port), MLFLOW_PORT=str(mlflow_port), DJANGO_SUPERUSER_PASSWORD="pw-cold-start")
        env["PYTHONUNBUFFERED"] = "1"  # each line stamped when it is printed
        for name in ("DATABASE_URL", "REDIS_URL"):
            env.pop(name, None)
        lines: list[tuple[float, str]] = []
        started = time.monotonic()
        make = subprocess.Popen(
            ["make", "run"],
            cwd=copy,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )

        def read() -> None:
            for line in make.stdout:
                lines.append((time.monotonic() - started, line.rstrip()))

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        try:
            url = f"http://127.0.0.1:{port}/api/v1/predict"
            while True:
                if make.poll() is not None:
                    raise SystemExit("make run exited:\n" + "\n".join(line for _, line in lines[-40:]))
                if time.monotonic() - started > 900:
                    raise SystemExit("no prediction within 900 s")
                try:
                    answer = requests.post(url, json={"instances": [CUSTOMER]}, timeout=5)
                    if answer.status_code == 200:
                        return time.monotonic() - started, lines
                except (requests.ConnectionError, requests.Timeout):
                    pass
                time.sleep(0.1)
        finally:
            os.killpg(make.pid, signal.SIGINT)
            try:
                make.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(make.pid, signal.SIGKILL)
                make.wait()
            reader.join(5)


def phases(total: float, lines: list[tuple[float, str]]) -> list[tuple[str, float]]:
    found = []
    for name, mark in MARKS:
        at = next((t for t, line in lines if mark in line), None)
        if at is not None:
            found.append((name, at))
    shown = [("make: up to migrate (venv check, make itself)", 0.0), *found]
    ends = [at for _, at in shown[1:]] + [total]
    return [(name, end - at) for (name, at), end in zip(shown, ends, strict=True)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--log", action="store_true", help="print make's output with its times")
    parser.add_argument("--root", type=Path, default=ROOT, help="the checkout to copy (default: this one)")
    args = parser.parse_args()
    print(f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())} ({os.cpu_count()} cores)")
    for number in range(1, args.runs + 1):
        total, lines = one_start(args.root)
        print(f"\nstart {number}: first answered prediction after {total:.1f} s")
        for name, seconds in phases(total, lines):
            print(f"  {name:<48} {seconds:7.1f} s")
        steps = [line.strip() for _, line in lines if "] " in line and "s  " in line and "[" in line]
        if steps:
            print("  the first champion's run, step by step (bootstrap's own lines):")
            for step in steps:
                print(f"    {step}")
        if args.log:
            for at, line in lines:
                print(f"  {at:7.2f}  {line}")
    print(f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
