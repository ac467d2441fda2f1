"""`bench/predict.py --protocols`: one app server answering the same rows through each protocol.

/api/v1/predict and MLflow's /invocations, both with the same `dataframe_split` JSON body;
/invocations with the same rows as CSV (a header row); the Open Inference Protocol (V2) with one
JSON input per column (bench/peers.py's `v2_body`, as MLServer is measured), and V2 with its numeric
inputs in the binary data extension, as tritonclient sends by default (the text columns stay JSON,
since a BYTES tensor cannot carry a missing value). At 1 and 100 rows, with 1 and --connections
connections. Every answer is checked equal to /api/v1/predict's before anything is measured. One
gunicorn worker (the app's threads) serves all of them, so the ratio is what the protocol's adapter
costs and nothing else: each cell runs every endpoint one after the other, in an order that turns
round by round, and the figures are the medians over the rounds.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from pathlib import Path
from typing import Any
from urllib.request import Request, urlopen

import peers
import predict as app_bench

SIZES = (1, 100)
JSON = {"Content-Type": "application/json"}
# (name, path); {model} is the served model's name.
ENDPOINTS = (
    ("predict json", "/api/v1/predict"),
    ("invocations json", "/invocations"),
    ("invocations csv", "/invocations"),
    ("v2 json", "/v2/models/{model}/infer"),
    ("v2 binary", "/v2/models/{model}/infer"),
)
# A body on disk and the headers it is sent with.
Body = tuple[Path, dict[str, str]]


def run(args: argparse.Namespace, env: dict, version: str, workdir: Path, bodies: dict[int, Path], frame: Any) -> None:
    seconds = args.seconds
    rounds = args.rounds or 3
    sent = {n: _bodies(workdir, frame, n, bodies[n]) for n in SIZES}
    paths = {name: path.format(model=env["MODEL_NAME"]) for name, path in ENDPOINTS}
    _in_process(paths, sent)
    process, url, _ = app_bench._start_app(env, version, 1, workdir)
    base = url.removesuffix("/api/v1/predict")
    try:
        app_bench._wait(url, process, workdir / "logs")
        for n in SIZES:
            _check(base, paths, sent[n])
        print(f"{seconds}-second runs, {rounds} round(s), one worker, load average {app_bench._load()}", flush=True)
        for name, _ in ENDPOINTS:  # warm up: first requests, lazy imports, the writer thread
            body, headers = sent[1][name]
            app_bench._wrk(base + paths[name], body, 1, 1, headers=headers)
        results: dict[tuple[str, int, int], list[dict[str, float]]] = {}
        for turn in range(rounds):
            for n in SIZES:
                for connections in (1, args.connections):
                    shift = turn % len(ENDPOINTS)
                    for name, _ in ENDPOINTS[shift:] + ENDPOINTS[:shift]:
                        body, headers = sent[n][name]
                        measured = app_bench._wrk(base + paths[name], body, connections, seconds, headers=headers)
                        results.setdefault((name, n, connections), []).append(measured)
    finally:
        app_bench._stop(process)
    _report(results, args.connections)


def _bodies(workdir: Path, frame: Any, n: int, json_body: Path) -> dict[str, Body]:
    rows = app_bench._rows(frame, n)
    csv_body = workdir / f"body-{n}.csv"
    rows.to_csv(csv_body, index=False)
    v2_json = workdir / f"v2-{n}.json"
    v2_json.write_text(json.dumps(peers.v2_body(rows)))
    return {
        "predict json": (json_body, JSON),
        "invocations json": (json_body, JSON),
        # wrk's script sets JSON first; this line comes after it, so CSV replaces it.
        "invocations csv": (csv_body, {"Content-Type": "text/csv"}),
        "v2 json": (v2_json, JSON),
        "v2 binary": _binary(workdir / f"v2-{n}.bin", peers.v2_body(rows)),
    }


def _binary(path: Path, body: dict) -> Body:
    """The V2 body with its numeric inputs in the binary data extension."""
    from predictor.api.v2_binary import HEADER_LENGTH, to_binary

    chunks = []
    for tensor in body["inputs"]:
        if tensor["datatype"] != "BYTES":
            chunks.append(to_binary(tensor["datatype"], tensor.pop("data")))
            tensor["parameters"] = {"binary_data_size": len(chunks[-1])}
    header = json.dumps(body).encode()
    path.write_bytes(header + b"".join(chunks))
    return path, {**JSON, HEADER_LENGTH: str(len(header))}


def _predictions(url: str, body: Body) -> list:
    with urlopen(Request(url, body[0].read_bytes(), body[1]), timeout=60) as response:
        answer = json.loads(response.read())
    return answer["outputs"][0]["data"] if "outputs" in answer else answer["predictions"]


def _check(base: str, paths: dict[str, str], sent: dict[str, Body]) -> None:
    expected = _predictions(base + paths["predict json"], sent["predict json"])
    for name, body in sent.items():
        if _predictions(base + paths[name], body) != expected:
            sys.exit(f"{name} answered other predictions than /api/v1/predict on the same rows")


def _in_process(paths: dict[str, str], sent: dict[int, dict[str, Body]], repeat: int = 300) -> None:
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
        for name, path in paths.items():
            body, headers = sent[n][name]
            content = body.read_bytes()
            extra = {"HTTP_" + key.upper().replace("-", "_"): value for key, value in headers.items()}
            extra.pop("HTTP_CONTENT_TYPE")
            environ = RequestFactory().post(path, content, content_type=headers["Content-Type"], **extra).environ
            best = float("inf")
            for _ in range(repeat):
                started = time.perf_counter()
                b"".join(handler({**environ, "wsgi.input": io.BytesIO(content)}, lambda status, headers: None))
                best = min(best, time.perf_counter() - started)
            figures.append(f"{name} {best * 1000:.3f}")
        print(f"  {n} row(s): " + ", ".join(figures))
    print()


def _report(results: dict[tuple[str, int, int], list[dict[str, float]]], connections: int) -> None:
    print(f"\nload average {app_bench._load()} ({os.cpu_count()} cores), at the end of the measurements")
    print(
        f"{'endpoint':<18}{'rows':>6}{'conns':>6}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}{'vs predict':>12}"
    )
    for n in SIZES:
        for conns in (1, connections):
            reference = statistics.median(r["rps"] for r in results["predict json", n, conns])
            for name, _ in ENDPOINTS:
                runs = results[name, n, conns]
                rps = statistics.median(r["rps"] for r in runs)
                p50 = statistics.median(r["p50"] for r in runs)
                p99 = statistics.median(r["p99"] for r in runs)
                errors = sum(int(r["errors"]) for r in runs)
                print(
                    f"{name:<18}{n:>6}{conns:>6}{rps:>10.1f}{p50:>9.2f}{p99:>9.2f}{errors:>8}{rps / reference:>12.2f}"
                )
    print(
        "\nTarget: /invocations and V2 (JSON bodies) within 10% of /api/v1/predict's throughput (vs predict >= 0.90)."
    )
