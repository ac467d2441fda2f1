"""`bench/predict.py --floor`: the app against the floor of its own stack, alternated in one run.

The floor is a bare Django project (bench/floor/: no apps, no middleware, orjson) under the same
gunicorn settings as the app (one worker of 4 threads). Its two views answer the same body in the
app's answer shape: /bare without a model, /infer through the same compiled model the app serves,
so the app/infer ratio is what everything the app does around inference costs.

Three configurations of the app, each against the same floor: the embedded defaults (prediction
log on); API keys required, counted in Redis (--redis-url, else REDIS_URL; skipped without one);
the prediction log off. Each cell (rows x connections) runs the app and both floor views one after
the other, in alternating order, for each round; the figures are the medians over the rounds.
"""

from __future__ import annotations

import argparse
import os
import pickle
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

import predict as app_bench

ROOT = Path(__file__).resolve().parents[1]
SERVERS = ("app", "infer", "bare")
CONNECTIONS = (1, 8)


def run(args: argparse.Namespace, env: dict, version: str, workdir: Path, bodies: dict[int, Path], model: Any) -> None:
    seconds = 1 if args.quick else (args.seconds if args.seconds != 5 else 2)
    rounds = 1 if args.quick else (args.rounds or 2)
    model_file = workdir / "floor-model.pkl"
    model_file.write_bytes(pickle.dumps(model))
    base = {k: v for k, v in env.items() if k != "REDIS_URL"}
    configs: list[tuple[str, dict, dict[str, str]]] = [("embedded defaults, log on", base, {})]
    if args.redis_url:
        key = _new_key()
        keyed = {**base, "API_KEYS_REQUIRED": "true", "REDIS_URL": args.redis_url}
        configs.append(("API keys required, Redis counter", keyed, {"Authorization": f"Bearer {key}"}))
    else:
        print("no --redis-url (or REDIS_URL): the configuration with API keys is skipped\n")
    configs.append(("prediction log off", {**base, "PREDICTION_LOG_SAMPLE": "0"}, {}))

    floor, floor_url = _start_floor(env, model_file, workdir)
    try:
        app_bench._wait(floor_url + "/bare", floor, workdir / "logs")
        print(f"{seconds}-second runs, {rounds} round(s), load average {app_bench._load()}", flush=True)
        loads = []
        for name, config_env, headers in configs:
            process, url, _ = app_bench._start_app(config_env, version, 1, workdir)
            try:
                app_bench._wait(url, process, workdir / "logs")
                urls = {"app": url, "infer": floor_url + "/infer", "bare": floor_url + "/bare"}
                for server in SERVERS:  # warm up: first requests, lazy imports, the writer thread
                    app_bench._wrk(urls[server], bodies[1], 1, 1, headers=headers)
                results = _measure(urls, bodies, headers, seconds, rounds)
            finally:
                app_bench._stop(process)
            loads.append(os.getloadavg())
            _print(name, results, loads[-1])
    finally:
        app_bench._stop(floor)


def _new_key() -> str:
    """A key with a limit no run reaches: the bench measures the counting, never a refusal."""
    from predictor.api import apikeys
    from predictor.models import ApiKey

    key, prefix, hashed = apikeys.generate()
    ApiKey.objects.create(name="floor bench", prefix=prefix, hashed_key=hashed, rate_limit=10**9)
    return key


def _start_floor(env: dict, model_file: Path, workdir: Path) -> tuple[subprocess.Popen, str]:
    port = app_bench._free_port()
    command = [sys.executable, "-m", "gunicorn", "floor.wsgi:application", "-c", "floor/gunicorn.py"]
    command += ["--bind", f"127.0.0.1:{port}"]
    floor_env = {**env, "FLOOR_MODEL": str(model_file), "PYTHONPATH": f"{ROOT / 'bench'}{os.pathsep}{ROOT}"}
    log = (workdir / "floor.log").open("wb")
    process = subprocess.Popen(command, cwd=ROOT / "bench", env=floor_env, stdout=log, stderr=subprocess.STDOUT)
    return process, f"http://127.0.0.1:{port}"


def _measure(
    urls: dict[str, str], bodies: dict[int, Path], headers: dict[str, str], seconds: int, rounds: int
) -> dict[tuple[str, int, int], dict[str, float]]:
    """Medians over the rounds of each server's figures, per (server, rows, connections)."""
    runs: dict[tuple[str, int, int], list[dict[str, float]]] = {}
    for rows in app_bench.SIZES:
        for connections in CONNECTIONS:
            for round_ in range(rounds):
                order = SERVERS if round_ % 2 == 0 else SERVERS[::-1]
                for server in order:
                    figures = app_bench._wrk(urls[server], bodies[rows], connections, seconds, headers=headers)
                    if figures["errors"]:
                        sys.exit(f"{server} answered {int(figures['errors'])} errors ({rows} rows)")
                    runs.setdefault((server, rows, connections), []).append(figures)
    return {
        cell: {k: statistics.median(r[k] for r in figures) for k in ("rps", "p50", "p99")}
        for cell, figures in runs.items()
    }


def _print(name: str, results: dict[tuple[str, int, int], dict[str, float]], load: tuple[float, ...]) -> None:
    print(f"\n{name} (load average {' '.join(f'{x:.1f}' for x in load)})")
    header = f"{'rows':>5}{'conns':>6}"
    for server in SERVERS:
        header += f"{server + ' req/s':>13}{'p50':>7}{'p99':>7}"
    print(header + f"{'app/infer req/s':>17}{'app/infer p50':>15}{'app/bare req/s':>16}")
    for rows in app_bench.SIZES:
        for connections in CONNECTIONS:
            line = f"{rows:>5}{connections:>6}"
            for server in SERVERS:
                r = results[server, rows, connections]
                line += f"{r['rps']:>13.0f}{r['p50']:>7.2f}{r['p99']:>7.2f}"
            app, infer, bare = (results[s, rows, connections] for s in SERVERS)
            line += f"{app['rps'] / infer['rps']:>17.2f}{app['p50'] / infer['p50']:>15.2f}"
            print(line + f"{app['rps'] / bare['rps']:>16.2f}", flush=True)
