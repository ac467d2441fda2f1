"""The prediction log's budget under a flood: one client sending 10,000-row requests.

One copy of the app under gunicorn (2 workers, embedded SQLite, the log on) with a small
PREDICTION_LOG_MAX_ROWS so the flood reaches it within seconds. Side by side in one run:
one-row requests on one connection without a flood (the baseline), then the same one-row
requests while a second client sends 10,000-row requests back to back for --seconds, from a key
without a row limit and then from a key limited to --row-limit rows a minute (API keys are
required; the one-row client's key has no row limit). Prints the one-row p50 of each and their
ratio to the baseline, the most rows the log held (counted every second) against
the budget, the share the budget kept, and how many times the team was notified (the email
subject in the server's output: with NOTIFY_EMAILS set and no EMAIL_HOST, mail is printed).
Then each target (peak within the budget, p50 within 10% of no flood, one notification) met or
missed; the exit status is 1 when one is missed.

Usage: .venv/bin/python bench/predlog_budget.py [--seconds 60] [--budget 50000] [--baseline 20]
           [--row-limit 100000]
Everything it creates lives in a temporary folder.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from urllib.request import Request, urlopen

from predict import ROOT, _register_model, _start_app, _stop, _wait, _write_body

SUBJECT = "[serving] the prediction log is full"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=60, help="length of the flood")
    parser.add_argument("--budget", type=int, default=50_000, help="PREDICTION_LOG_MAX_ROWS")
    parser.add_argument("--baseline", type=int, default=20, help="seconds of one-row requests without a flood")
    parser.add_argument("--rows", type=int, default=10_000, help="rows per flood request")
    parser.add_argument("--row-limit", type=int, default=100_000, help="the limited flood key's rows a minute")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="bench-predlog-budget-"))
    env = {**os.environ, "VAR_DIR": str(workdir / "var"), "MODEL_NAME": f"bench-{uuid.uuid4().hex[:6]}"}
    env.update(
        MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR="false",
        PREDICTION_LOG_MAX_ROWS=str(args.budget),
        PREDICTION_LOG_SAMPLE="1",
        NOTIFY_EMAILS="ops@example.com",
        EMAIL_HOST="",
        API_KEYS_REQUIRED="true",
    )
    env.pop("DATABASE_URL", None)
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from predictor.api import apikeys
    from predictor.models import ApiKey, LogBudget, LogSampling, Prediction

    version, frame, _ = _register_model("penguins")
    keys = {}
    for name, limit in (("probe", None), ("flood", None), ("limited", args.row_limit)):
        keys[name], prefix, hashed = apikeys.generate()
        ApiKey.objects.create(name=name, prefix=prefix, hashed_key=hashed, rate_limit=10**9, row_limit=limit)
    one = _write_body(workdir, frame, 1).read_bytes()
    flood = _write_body(workdir, frame, args.rows).read_bytes()
    (workdir / "logs").mkdir()
    process, url, _ = _start_app(env, version, 2, workdir)
    log = next(workdir.glob("app-*.log"))
    try:
        _wait(url, process, workdir / "logs")
        print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; budget {args.budget} rows")
        probe = keys["probe"]
        _latencies(url, one, 3, probe)  # warm both workers
        quiet = _latencies(url, one, args.baseline, probe)
        stop = threading.Event()
        sent = [0, 0]
        flooder = threading.Thread(target=_flood, args=(url, flood, stop, sent, keys["flood"]), daemon=True)
        peak = [0]
        counter = threading.Thread(target=_count, args=(Prediction, stop, peak), daemon=True)
        flooder.start()
        counter.start()
        busy = _latencies(url, one, args.seconds, probe)
        stop.set()
        flooder.join()
        counter.join()
        time.sleep(3)
        rows_now = Prediction.objects.count()
        state = LogBudget.objects.filter(pk=1).first()
        changes = list(LogSampling.objects.order_by("since").values_list("since", "share", "rows"))
        stop_limited = threading.Event()
        limited_sent = [0, 0]
        limited = threading.Thread(
            target=_flood, args=(url, flood, stop_limited, limited_sent, keys["limited"]), daemon=True
        )
        limited.start()
        held = _latencies(url, one, args.seconds, probe)
        stop_limited.set()
        limited.join()
    finally:
        _stop(process)
    mails = log.read_text(errors="replace").count(f"Subject: {SUBJECT}")
    p50_quiet, p50_busy = statistics.median(quiet), statistics.median(busy)
    print(f"one-row p50 without a flood: {p50_quiet:.2f} ms ({len(quiet)} requests)")
    print(
        f"one-row p50 during the flood: {p50_busy:.2f} ms ({len(busy)} requests) -> "
        f"{p50_busy / p50_quiet:.2f}x the baseline"
    )
    print(f"flood: {sent[0]} requests of {args.rows} rows answered ({sent[0] * args.rows} rows), {sent[1]} refused")
    p50_held = statistics.median(held)
    print(
        f"one-row p50 during the flood from a key limited to {args.row_limit} rows a minute: {p50_held:.2f} ms "
        f"({len(held)} requests) -> {p50_held / p50_quiet:.2f}x the baseline; that flood: {limited_sent[0]} "
        f"answered, {limited_sent[1]} refused (429)"
    )
    print(
        f"log: at most {peak[0]} rows while flooded, {rows_now} after, budget {args.budget} "
        f"-> peak {peak[0] / args.budget:.2f}x the budget; share kept {state.share if state else 1.0}"
    )
    print(f"notifications sent: {mails}")
    start = changes[0][0] if changes else None
    print(
        "share changes (seconds after the first, share, rows then): "
        + ", ".join(f"{(since - start).total_seconds():.1f}s {share:g} {rows}" for since, share, rows in changes)
    )
    targets = [
        ("the log within its budget while flooded", peak[0] <= args.budget, f"peak {peak[0] / args.budget:.2f}x"),
        ("one-row p50 within 10% of no flood", p50_busy <= 1.1 * p50_quiet, f"{p50_busy / p50_quiet:.2f}x"),
        ("the team notified once", mails == 1, f"{mails} sent"),
    ]
    for name, met, figure in targets:
        print(f"target: {name}: {figure}, {'met' if met else 'MISSED'}")
    if not all(met for _, met, _ in targets):
        sys.exit(1)


def _post(url: str, body: bytes, key: str) -> int:
    request = Request(url, body, {"Content-Type": "application/json", "Authorization": f"Bearer {key}"})
    try:
        with urlopen(request, timeout=120) as response:
            response.read()
            return response.status
    except Exception as exc:
        return getattr(exc, "code", 0)


def _latencies(url: str, body: bytes, seconds: float, key: str) -> list[float]:
    times = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        started = time.perf_counter()
        status = _post(url, body, key)
        if status == 200:
            times.append((time.perf_counter() - started) * 1000)
    return times


def _flood(url: str, body: bytes, stop: threading.Event, sent: list[int], key: str) -> None:
    while not stop.is_set():
        sent[0 if _post(url, body, key) == 200 else 1] += 1


def _count(model, stop: threading.Event, peak: list[int]) -> None:  # type: ignore[no-untyped-def]
    while not stop.is_set():
        peak[0] = max(peak[0], model.objects.count())
        time.sleep(1)


if __name__ == "__main__":
    main()
