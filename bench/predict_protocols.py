"""`bench/predict.py --protocols`: one app server answering the same rows through each protocol.

/api/v1/predict and MLflow's /invocations, both with the same `dataframe_split` JSON body, and
/invocations with the same rows as CSV (a header row; reported beside, since CSV is not the
comparison the target names), at 1 and 100 rows, with 1 and --connections connections. One
gunicorn worker (the app's threads) serves all of them, so the ratio is what the protocol's adapter
costs and nothing else: each cell runs every endpoint one after the other, in an order that turns
round by round, and the figures are the medians over the rounds.
"""

from __future__ import annotations

import argparse
import os
import statistics
from pathlib import Path
from typing import Any

import predict as app_bench

SIZES = (1, 100)
# (name, path, content type of its body)
ENDPOINTS = (
    ("predict json", "/api/v1/predict", "application/json"),
    ("invocations json", "/invocations", "application/json"),
    ("invocations csv", "/invocations", "text/csv"),
)


def run(args: argparse.Namespace, env: dict, version: str, workdir: Path, bodies: dict[int, Path], frame: Any) -> None:
    seconds = args.seconds
    rounds = args.rounds or 3
    csv_bodies = {n: _write_csv(workdir, frame, n) for n in SIZES}
    _in_process(bodies, csv_bodies)
    process, url, _ = app_bench._start_app(env, version, 1, workdir)
    base = url.removesuffix("/api/v1/predict")
    try:
        app_bench._wait(url, process, workdir / "logs")
        print(f"{seconds}-second runs, {rounds} round(s), one worker, load average {app_bench._load()}", flush=True)
        for _, path, content_type in ENDPOINTS:  # warm up: first requests, lazy imports, the writer thread
            app_bench._wrk(base + path, _body(bodies, csv_bodies, content_type, 1), 1, 1, headers=_type(content_type))
        results: dict[tuple[str, int, int], list[dict[str, float]]] = {}
        for turn in range(rounds):
            for n in SIZES:
                for connections in (1, args.connections):
                    shift = turn % len(ENDPOINTS)
                    for name, path, content_type in ENDPOINTS[shift:] + ENDPOINTS[:shift]:
                        body = _body(bodies, csv_bodies, content_type, n)
                        measured = app_bench._wrk(base + path, body, connections, seconds, headers=_type(content_type))
                        results.setdefault((name, n, connections), []).append(measured)
    finally:
        app_bench._stop(process)
    _report(results, args.connections)


def _in_process(bodies: dict[int, Path], csv_bodies: dict[int, Path], repeat: int = 300) -> None:
    """Each endpoint's whole request (middleware, view, predict function) in this process, the best of
    `repeat`: on a busy machine the minimum is the figure least disturbed by other processes."""
    import io
    import time

    from django.conf import settings
    from django.core.handlers.wsgi import WSGIHandler
    from django.test import RequestFactory

    from predictor.serving.holder import holder

    holder().sync()
    settings.ALLOWED_HOSTS = ["testserver"]
    handler = WSGIHandler()
    print("whole request in process, best of many, ms:")
    for n in SIZES:
        figures = []
        for name, path, content_type in ENDPOINTS:
            body = _body(bodies, csv_bodies, content_type, n).read_bytes()
            environ = RequestFactory().post(path, body, content_type=content_type).environ
            best = float("inf")
            for _ in range(repeat):
                started = time.perf_counter()
                b"".join(handler({**environ, "wsgi.input": io.BytesIO(body)}, lambda status, headers: None))
                best = min(best, time.perf_counter() - started)
            figures.append(f"{name} {best * 1000:.3f}")
        print(f"  {n} row(s): " + ", ".join(figures))
    print()


def _type(content_type: str) -> dict[str, str]:
    # wrk's script sets JSON first; this line comes after it, so CSV replaces it.
    return {"Content-Type": content_type}


def _body(bodies: dict[int, Path], csv_bodies: dict[int, Path], content_type: str, n: int) -> Path:
    return csv_bodies[n] if content_type == "text/csv" else bodies[n]


def _write_csv(workdir: Path, frame: Any, n: int) -> Path:
    path = workdir / f"body-{n}.csv"
    app_bench._rows(frame, n).to_csv(path, index=False)
    return path


def _report(results: dict[tuple[str, int, int], list[dict[str, float]]], connections: int) -> None:
    print(f"\nload average {app_bench._load()} ({os.cpu_count()} cores), at the end of the measurements")
    print(
        f"{'endpoint':<18}{'rows':>6}{'conns':>6}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}{'vs predict':>12}"
    )
    for n in SIZES:
        for conns in (1, connections):
            reference = statistics.median(r["rps"] for r in results["predict json", n, conns])
            for name, _, _ in ENDPOINTS:
                runs = results[name, n, conns]
                rps = statistics.median(r["rps"] for r in runs)
                p50 = statistics.median(r["p50"] for r in runs)
                p99 = statistics.median(r["p99"] for r in runs)
                errors = sum(int(r["errors"]) for r in runs)
                print(
                    f"{name:<18}{n:>6}{conns:>6}{rps:>10.1f}{p50:>9.2f}{p99:>9.2f}{errors:>8}{rps / reference:>12.2f}"
                )
    print("\nTarget: /invocations (JSON) within 10% of /api/v1/predict's throughput (vs predict >= 0.90).")
