"""The Open Inference Protocol (V2) against /api/v1/predict: the same app, the same rows, the same
gunicorn, one worker, driven by wrk (bench/predict.py's own helpers).

Three bodies per row count (1 and 100 rows): /api/v1/predict's `dataframe_split`; V2 JSON (one input
per column, bench/peers.py's `v2_body`, as MLServer is measured); and V2 with the binary data
extension, as tritonclient sends by default (numeric columns as little-endian bytes; the text
columns stay JSON, since a BYTES tensor cannot carry a missing value). Both answers are checked
equal before anything is measured. Each cell runs the three one after the other, in an order that
alternates round by round, so they see the same load from the rest of the machine; the figures
are the medians over the rounds, and the ratio is V2's throughput over /api/v1/predict's.

Usage: .venv/bin/python bench/predict_v2.py [--seconds 3] [--rounds 3] [--connections 8]
Needs `wrk` (apt-get install wrk). Everything it creates lives in a temporary folder.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import uuid
from pathlib import Path
from urllib.request import Request, urlopen

import peers
import predict as app_bench

SIZES = (1, 100)
KINDS = ("v1", "v2-json", "v2-binary")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=3, help="length of each wrk run")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per cell")
    parser.add_argument("--connections", type=int, default=8, help="connections for the throughput runs")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="bench-predict-v2-"))
    env = {**os.environ, "VAR_DIR": str(workdir / "var"), "MODEL_NAME": f"bench-{uuid.uuid4().hex[:6]}"}
    env.pop("DATABASE_URL", None)
    os.environ.update(env)
    sys.path.insert(0, str(app_bench.ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    version, frame, _ = app_bench._register_model("penguins")
    process, v1_url, _ = app_bench._start_app(env, version, 1, workdir)
    v2_url = v1_url.replace("/api/v1/predict", f"/v2/models/{env['MODEL_NAME']}/infer")
    try:
        app_bench._wait(v1_url, process, workdir / "logs")
        bodies = {}
        for n in SIZES:
            rows = app_bench._rows(frame, n)
            bodies[n] = {
                "v1": (app_bench._write_body(workdir, frame, n), {}),
                "v2-json": _write(workdir / f"v2-{n}.json", json.dumps(peers.v2_body(rows)).encode(), {}),
                "v2-binary": _binary_body(workdir / f"v2-{n}.bin", peers.v2_body(rows)),
            }
            _check(v1_url, v2_url, bodies[n])
        urls = {"v1": v1_url, "v2-json": v2_url, "v2-binary": v2_url}
        for kind in KINDS:  # warm up: lazy imports, the writer thread
            app_bench._wrk(urls[kind], bodies[1][kind][0], 1, 1, headers=bodies[1][kind][1])
        print(f"{args.seconds}-second runs, {args.rounds} rounds, load average {app_bench._load()}", flush=True)
        results = _measure(urls, bodies, args)
    finally:
        app_bench._stop(process)
    _report(results, args.connections)


def _write(path: Path, content: bytes, headers: dict[str, str]) -> tuple[Path, dict[str, str]]:
    path.write_bytes(content)
    return path, headers


def _binary_body(path: Path, body: dict) -> tuple[Path, dict[str, str]]:
    """The V2 body with its numeric inputs in the binary data extension."""
    from predictor.api.v2_binary import HEADER_LENGTH, to_binary

    chunks = []
    for tensor in body["inputs"]:
        if tensor["datatype"] != "BYTES":
            chunks.append(to_binary(tensor["datatype"], tensor.pop("data")))
            tensor["parameters"] = {"binary_data_size": len(chunks[-1])}
    header = json.dumps(body).encode()
    return _write(path, header + b"".join(chunks), {HEADER_LENGTH: str(len(header))})


def _post(url: str, body: tuple[Path, dict[str, str]]) -> dict:
    request = Request(url, body[0].read_bytes(), {"Content-Type": "application/json", **body[1]})
    with urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def _check(v1_url: str, v2_url: str, bodies: dict) -> None:
    expected = _post(v1_url, bodies["v1"])["predictions"]
    for kind in ("v2-json", "v2-binary"):
        answer = _post(v2_url, bodies[kind])
        if answer["outputs"][0]["data"] != expected:
            sys.exit(f"{kind} answered other predictions than /api/v1/predict on the same rows: {str(answer)[:300]}")


def _measure(urls: dict, bodies: dict, args: argparse.Namespace) -> dict:
    results: dict[tuple[str, int, int], list[dict[str, float]]] = {}
    for round_number in range(args.rounds):
        for n in SIZES:
            for connections in (1, args.connections):
                order = KINDS if round_number % 2 == 0 else KINDS[::-1]
                for kind in order:
                    body, headers = bodies[n][kind]
                    figures = app_bench._wrk(urls[kind], body, connections, args.seconds, headers=headers)
                    results.setdefault((kind, n, connections), []).append(figures)
    return results


def _report(results: dict, connections: int) -> None:
    print(f"\nload average {app_bench._load()} ({os.cpu_count()} cores), at the end of the measurements")
    print(f"{'body':<11}{'rows':>6}{'conns':>6}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}{'vs v1':>8}")
    for n in SIZES:
        for conns in (1, connections):
            base = statistics.median(r["rps"] for r in results["v1", n, conns])
            for kind in KINDS:
                runs = results[kind, n, conns]
                rps = statistics.median(r["rps"] for r in runs)
                p50 = statistics.median(r["p50"] for r in runs)
                p99 = statistics.median(r["p99"] for r in runs)
                errors = sum(int(r["errors"]) for r in runs)
                print(f"{kind:<11}{n:>6}{conns:>6}{rps:>10.1f}{p50:>9.2f}{p99:>9.2f}{errors:>8}{rps / base:>8.2f}")


if __name__ == "__main__":
    main()
