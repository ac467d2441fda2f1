"""RSS of one gunicorn web worker under mixed load: big batches, 413s, bad bodies, small requests.

Needs a VAR_DIR with a deployed model (`VAR_DIR=... python manage.py bootstrap` first). Starts
gunicorn as shipped (config/gunicorn.py) with one worker on a free port of 127.0.0.1, drives it
from --clients threads for --seconds, samples the worker's RSS every 0.1 s, and prints RSS
before, the peak, and after the load (after a pause), with the status counts.

    VAR_DIR=/tmp/bench-var .venv/bin/python bench/web_memory.py --seconds 30 --clients 6
"""

import argparse
import collections
import json
import os
import random
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import requests

ROOT = Path(__file__).resolve().parents[1]
ROW = {
    "island": "Biscoe",
    "bill_length_mm": 48.6,
    "bill_depth_mm": 16.0,
    "flipper_length_mm": 230.0,
    "body_mass_g": 5800.0,
    "sex": "male",
    "year": 2009,
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def bodies(max_rows: int) -> dict[str, bytes]:
    """The kinds of request sent, by name: what a busy, careless set of clients sends."""
    rows = [dict(ROW, bill_length_mm=40 + i % 15) for i in range(max_rows)]
    return {
        "small": json.dumps({"instances": rows[:3]}).encode(),
        "max rows": json.dumps({"dataframe_records": rows}).encode(),
        "max rows split": json.dumps(
            {"dataframe_split": {"columns": list(ROW), "data": [list(r.values()) for r in rows]}}
        ).encode(),
        "too many rows (413)": json.dumps({"instances": rows + rows[:100]}).encode(),
        "too large a body (413)": b'{"instances": [' + b" " * 4_000_000 + b"]}",
        "bad rows": json.dumps({"instances": [dict(r, year="x") for r in rows]}).encode(),
        "long unseen categories (413)": json.dumps(
            {"instances": [dict(r, island=f"isle-{i:0>120}") for i, r in enumerate(rows)]}
        ).encode(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--clients", type=int, default=6)
    parser.add_argument("--max-rows", type=int, default=10_000)
    args = parser.parse_args()
    port = free_port()
    env = dict(os.environ, WEB_CONCURRENCY="1", PORT=str(port))
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "config.wsgi", "-c", "config/gunicorn.py"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if requests.get(f"{url}/readyz", timeout=5).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline:
                sys.exit("the server did not become ready")
            time.sleep(0.5)
        worker = psutil.Process(server.pid).children()[0]
        kinds = bodies(args.max_rows)
        requests.post(f"{url}/api/v1/predict", data=kinds["small"], headers={"Content-Type": "application/json"})
        before = worker.memory_info().rss
        peak = before
        statuses: collections.Counter[str] = collections.Counter()
        stop = threading.Event()

        def client(seed: int) -> None:
            session = requests.Session()
            pick = random.Random(seed)
            while not stop.is_set():
                name = pick.choice(list(kinds))
                try:
                    response = session.post(
                        f"{url}/api/v1/predict", data=kinds[name], headers={"Content-Type": "application/json"}
                    )
                    statuses[f"{name}: {response.status_code}"] += 1
                except requests.RequestException as exc:
                    statuses[f"{name}: {type(exc).__name__}"] += 1
                    session = requests.Session()

        threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(args.clients)]
        for thread in threads:
            thread.start()
        ends = time.monotonic() + args.seconds
        while time.monotonic() < ends:
            peak = max(peak, worker.memory_info().rss)
            time.sleep(0.1)
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
        time.sleep(5)
        after = worker.memory_info().rss
        mib = 1024 * 1024
        print(f"one worker, {args.clients} clients, {args.seconds:.0f} s, up to {args.max_rows} rows per request")
        print(f"RSS before {before / mib:.0f} MiB, peak {peak / mib:.0f} MiB, 5 s after {after / mib:.0f} MiB")
        for name, count in sorted(statuses.items()):
            print(f"  {count:6d}  {name}")
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
