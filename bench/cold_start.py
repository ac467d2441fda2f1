"""Cold start of `make run`: seconds until the first answered prediction.

Copies the repository (without .venv, var/ or .git) to a temporary folder, links the existing
.venv into it, starts `make run` there on free ports in a process group of its own, stamps every
line it prints with the time since the start, and posts the README's customer to
/api/v1/predict until it is answered. Then stops the whole group and prints where the time went:
migrate, collectstatic, bootstrap (demo registry and the first champion, trained through the
pipeline), and the processes' start until the web process answers. Nothing is installed.

With --from-clone REV [REV ...], each revision is cloned (git clone of this repository, then that
commit) into a temporary folder with no .venv: `make run` creates its virtualenvs and installs
everything, as after `git clone` on a new machine. Reported for each: the install (make's start
to migrate), the first answered prediction, when the MLflow UI answered, and the size of each
virtualenv. pip's cache is PIP_CACHE_DIR as given (`--pip-cache DIR`, shared by every revision:
`--warm` fills it first with `pip download` of each revision's requirements) or, with
`--pip-cache fresh`, a new empty one for each revision (a cold cache).

Usage: .venv/bin/python bench/cold_start.py [--runs 2] [--root OTHER_CHECKOUT]
       .venv/bin/python bench/cold_start.py --from-clone main HEAD --pip-cache DIR [--warm]
       .venv/bin/python bench/cold_start.py --from-clone main HEAD --pip-cache fresh
"""

from __future__ import annotations

import argparse
import contextlib
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
    with tempfile.TemporaryDirectory(prefix="cold-start-") as tmp:
        copy = Path(tmp) / "app"
        shutil.copytree(
            root,
            copy,
            ignore=shutil.ignore_patterns(
                ".venv", ".venv-mlflow-ui", "var", ".git", "__pycache__", "staticfiles", ".*_cache"
            ),
        )
        (copy / ".venv").symlink_to((root / ".venv").resolve())
        if (root / ".venv-mlflow-ui").exists():  # the MLflow UI's own, where `make run` has installed it
            (copy / ".venv-mlflow-ui").symlink_to((root / ".venv-mlflow-ui").resolve())
        total, lines, _ = make_run(copy, {})
        return total, lines


def make_run(
    copy: Path, extra_env: dict[str, str], wait_for_ui: bool = False
) -> tuple[float, list[tuple[float, str]], float | None]:
    """`make run` in `copy` until the first answered prediction (and the MLflow UI's, if asked),
    then Ctrl-C to its process group: (seconds to the prediction, make's lines, seconds to the UI)."""
    import requests

    port, mlflow_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if k not in {"VAR_DIR", "MLFLOW_TRACKING_URI", "DATA_REGISTRY"}}
    env.update(PORT=str(port), MLFLOW_PORT=str(mlflow_port), DJANGO_SUPERUSER_PASSWORD="pw-cold-start")
    env["PYTHONUNBUFFERED"] = "1"  # each line stamped when it is printed
    for name in ("DATABASE_URL", "REDIS_URL", "VIRTUAL_ENV"):
        env.pop(name, None)
    env.update(extra_env)
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

    def answered(method: str, url: str, **kwargs: object) -> bool:
        if make.poll() is not None:
            raise SystemExit("make run exited:\n" + "\n".join(line for _, line in lines[-40:]))
        if time.monotonic() - started > 1800:
            raise SystemExit(f"{url} did not answer within 1800 s")
        try:
            return requests.request(method, url, timeout=5, **kwargs).status_code == 200
        except (requests.ConnectionError, requests.Timeout):
            return False

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        predict = f"http://127.0.0.1:{port}/api/v1/predict"
        while not answered("POST", predict, json={"instances": [CUSTOMER]}):
            time.sleep(0.1)
        prediction = time.monotonic() - started
        ui = None
        if wait_for_ui:
            while not answered("GET", f"http://127.0.0.1:{mlflow_port}/health"):
                time.sleep(0.5)
            ui = time.monotonic() - started
        return prediction, lines, ui
    finally:
        os.killpg(make.pid, signal.SIGINT)
        try:
            make.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(make.pid, signal.SIGKILL)
            make.wait()
        reader.join(5)
        left_behind(copy)


def left_behind(copy: Path) -> None:
    """Kill, loudly, any process still working in `copy` (honcho gives each process a session of its own)."""
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            cwd = Path(os.readlink(proc / "cwd"))
        except OSError:
            continue
        if cwd == copy or copy in cwd.parents:
            print(f"  still running after Ctrl-C, killed: pid {proc.name}", file=sys.stderr)
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(proc.name), signal.SIGKILL)


def megabytes(path: Path) -> int | None:
    if not path.exists():
        return None
    return int(subprocess.run(["du", "-sm", str(path)], capture_output=True, text=True).stdout.split()[0])


def requirement_files(checkout: Path) -> list[Path]:
    """What `make run` installs there: the app's requirements and, where there is one, the MLflow UI's."""
    return [path for name in ("requirements.txt", "requirements-mlflow-ui.txt") if (path := checkout / name).exists()]


def warm(revisions: list[str], cache: Path) -> None:
    """Fill pip's cache with every package the revisions' requirements name (nothing installed)."""
    with tempfile.TemporaryDirectory(prefix="cold-start-warm-") as tmp:
        for revision in revisions:
            checkout = clone(revision, Path(tmp) / revision.replace("/", "-"))
            for requirements in requirement_files(checkout):
                subprocess.run(
                    [sys.executable, "-m", "pip", "download", "-qq", "-d", f"{tmp}/wheels", "-r", requirements],
                    cwd=checkout,
                    env={**os.environ, "PIP_CACHE_DIR": str(cache)},
                    check=True,
                )


def commit_of(revision: str) -> str:
    found = subprocess.run(["git", "-C", str(ROOT), "rev-parse", revision], capture_output=True, text=True, check=True)
    return found.stdout.strip()


def clone(revision: str, into: Path) -> Path:
    """A clone of this repository at `revision` (a branch, tag or commit of this checkout)."""
    subprocess.run(["git", "clone", "--quiet", "--no-checkout", str(ROOT), str(into)], check=True)
    subprocess.run(["git", "-C", str(into), "checkout", "--quiet", "--detach", commit_of(revision)], check=True)
    return into


def from_clone(revision: str, cache: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="cold-start-clone-") as tmp:
        copy = clone(revision, Path(tmp) / "app")
        total, lines, ui = make_run(copy, {"PIP_CACHE_DIR": str(cache)}, wait_for_ui=True)
        installed = next(t for t, line in lines if "manage.py migrate" in line)
        sizes = {name: megabytes(copy / name) for name in (".venv", ".venv-mlflow-ui")}
    print(f"\n{revision} ({commit_of(revision)[:7]}), pip cache {cache}:")
    print(f"  install (make's start to migrate)        {installed:7.1f} s")
    print(f"  first answered prediction                {total:7.1f} s")
    print(f"  MLflow UI answered                       {ui:7.1f} s")
    for name, size in sizes.items():
        print(f"  du -sm {name:<33} {'-' if size is None else size:>7} MB")
    for at, line in lines:
        if "MLflow UI:" in line or "manage.py migrate" in line or "honcho start" in line:
            print(f"    {at:7.1f}  {line.strip()[:120]}")


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
    parser.add_argument("--from-clone", nargs="+", metavar="REV", help="clone each revision; make run installs")
    parser.add_argument("--pip-cache", help="PIP_CACHE_DIR for --from-clone, or 'fresh': an empty one per revision")
    parser.add_argument("--warm", action="store_true", help="fill --pip-cache with pip download first")
    args = parser.parse_args()
    print(f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())} ({os.cpu_count()} cores)")
    if args.from_clone:
        if not args.pip_cache:
            parser.error("--from-clone needs --pip-cache DIR or --pip-cache fresh")
        if args.warm and args.pip_cache != "fresh":
            warm(args.from_clone, Path(args.pip_cache))
        for _ in range(args.runs):
            for revision in args.from_clone:
                if args.pip_cache == "fresh":
                    with tempfile.TemporaryDirectory(prefix="cold-start-pip-cache-") as cache:
                        from_clone(revision, Path(cache))
                else:
                    from_clone(revision, Path(args.pip_cache))
        print(f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
        return
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
