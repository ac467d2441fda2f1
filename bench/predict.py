"""Prediction serving benchmark: this app under gunicorn against `mlflow models serve`.

Both serve the same registered model (a RandomForest of 100 trees on the demo penguins data, or
with --data breast-cancer on scikit-learn's bundled breast-cancer data: 30 numeric columns, or
with --data houses a RandomForestRegressor on the demo house prices, a regression: its `predict`
is then the floor and the compiled path is checked equal to it),
started side by side on 127.0.0.1 with 1 and with 2 worker processes, driven by the same load
generator (wrk) with the same MLflow `dataframe_split` bodies of 1, 100 and 1,000 rows. The
model's own in-process predict_proba on the same rows is the floor. Also: what Django's
middleware costs on the predict path, and one keep-alive connection against one that closes
every time (the Nagle stall). Prints requests/s, p50, p99 and the ratios the targets use.

With --logging it measures only what the prediction log costs: two copies of the app side by
side (PREDICTION_LOG_SAMPLE=1 and =0, one worker each), driven in alternation, round after round,
so both see the same load from the rest of the machine; the figure is the median of the paired
(same round) differences. --control runs the same with the log off in both, to show what the
method itself gives for two equal servers on the machine as it is.

Next to them, the strongest peers (bench/peers.py, each from its own virtualenv under
var/bench-venv/, created on first use): Seldon's MLServer with its MLflow runtime (V2 inference
protocol, the same rows) and BentoML on the same model file (the same body).

Usage: .venv/bin/python bench/predict.py [--seconds 5] [--connections 8] [--data breast-cancer]
       [--workers 1,2] [--servers app,app-own,mlflow,mlserver,bentoml]
       .venv/bin/python bench/predict.py --logging [--rounds 6] [--seconds 5] [--control]
       .venv/bin/python bench/predict.py --floor [--quick] [--rounds 2] [--seconds 2] [--redis-url URL]
       .venv/bin/python bench/predict.py --protocols [--rounds 3] [--seconds 5]
With --floor: the app against the floor of its own stack (bench/floor_bench.py). With --protocols:
/api/v1/predict against MLflow's /invocations (JSON and CSV) and V2 (JSON and binary) on one server
(bench/predict_protocols.py).
Needs `wrk` (apt-get install wrk). Everything it creates lives in a temporary folder.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.request import Request, urlopen

import peers

ROOT = Path(__file__).resolve().parents[1]
SIZES = (1, 100, 1000)
SERVERS = ("app", "app-own", "mlflow", "mlserver", "bentoml")
PEERS = ("mlflow", "mlserver", "bentoml")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=5, help="length of each wrk run")
    parser.add_argument("--connections", type=int, default=8, help="connections for the throughput runs")
    parser.add_argument("--in-process", action="store_true", help="only the in-process figures (no servers)")
    parser.add_argument(
        "--data", choices=("penguins", "breast-cancer", "houses"), default="penguins", help="training data"
    )
    parser.add_argument("--logging", action="store_true", help="only the prediction log's cost: on against off")
    parser.add_argument(
        "--rounds", type=int, default=None, help="alternating rounds of --logging (default 6) or --floor (default 2)"
    )
    parser.add_argument("--floor", action="store_true", help="only the app against the floor of its own stack")
    parser.add_argument("--protocols", action="store_true", help="only /api/v1/predict against /invocations and V2")
    parser.add_argument("--quick", action="store_true", help="with --floor: 1-second runs, one round")
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL", ""), help="with --floor: the key counter")
    parser.add_argument("--control", action="store_true", help="with --logging: both servers log off (A/A)")
    parser.add_argument("--workers", default="1,2", help="worker counts, comma-separated")
    parser.add_argument("--servers", default=",".join(SERVERS), help="servers to measure, comma-separated")
    args = parser.parse_args()
    chosen = [name for name in args.servers.split(",") if name]
    unknown = set(chosen) - set(SERVERS)
    if unknown:
        sys.exit(f"unknown server(s) {', '.join(sorted(unknown))}: choose from {', '.join(SERVERS)}")
    worker_counts = [int(w) for w in args.workers.split(",")]
    if not args.in_process and not shutil.which("wrk"):
        sys.exit("wrk is not installed: apt-get install -y wrk")
    workdir = Path(tempfile.mkdtemp(prefix="bench-predict-"))
    env = {**os.environ, "VAR_DIR": str(workdir / "var"), "MODEL_NAME": f"bench-{uuid.uuid4().hex[:6]}"}
    env["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = "false"
    env.pop("DATABASE_URL", None)
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    version, frame, model = _register_model(args.data)
    bodies = {n: _write_body(workdir, frame, n) for n in SIZES}
    v2_bodies = {n: _write_v2_body(workdir, frame, n) for n in SIZES}
    print(f"model {env['MODEL_NAME']} v{version}: RandomForest(100 trees), {args.data} data, {frame.shape[1]} columns")
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}\n")
    if args.floor:
        import floor_bench

        floor_bench.run(args, env, version, workdir, bodies, model)
        return
    if args.protocols:
        import predict_protocols

        predict_protocols.run(args, env, version, workdir, bodies, frame)
        return
    if args.rounds is None:
        args.rounds = 6
    if args.logging:
        _logging_in_process(frame)
        _logging_cost(env, version, workdir, bodies[1], args)
        return

    # A regressor answers its predict; a classifier's answer is read off its predict_proba.
    method = "predict" if args.data == "houses" else "predict_proba"
    floor = {n: _in_process(getattr(model, method), _rows(frame, n), n) for n in SIZES}
    print(f"in-process {method} (floor), ms p50: " + ", ".join(f"{n} rows {floor[n]:.2f}" for n in SIZES))
    compiled = _compiled(model, frame, method)
    print(
        f"in-process compiled inference (what the app runs, checked equal to {method}: difference 0), ms p50: "
        + ", ".join(f"{n} rows {compiled[n]:.2f} ({floor[n] / compiled[n]:.1f}x faster)" for n in SIZES)
    )
    _middleware_cost()
    for n in SIZES:
        handled, predicted = _view_overhead(frame, n, method)
        print(
            f"predict view in process, {n} rows, best of many: {handled:.2f} ms against {method} "
            f"{predicted:.2f} ms -> {handled - predicted:+.2f} ms, {handled / predicted:.2f}x"
        )
    print()
    if args.in_process:
        return

    results: dict[tuple[str, int, int, int], dict[str, float]] = {}
    artifacts = _artifacts(version, workdir)
    # "app-own" is this app with COMPILED_INFERENCE off: the model's own predict_proba per request.
    starts = {
        "app": lambda w: _start_app(env, version, w, workdir),
        "app-own": lambda w: _start_app({**env, "COMPILED_INFERENCE": "false"}, version, w, workdir),
        "mlflow": lambda w: _start_mlflow(env, version, w, workdir),
        "mlserver": lambda w: peers.start_mlserver(artifacts, w, workdir, _ports(3), env),
        "bentoml": lambda w: peers.start_bentoml(artifacts, w, workdir, _free_port(), env),
    }
    for workers in worker_counts:
        for server in chosen:
            server_bodies = v2_bodies if server == "mlserver" else bodies
            process, url, ready = starts[server](workers)
            try:
                _wait(url, process, workdir / "logs", ready)
                _check_answers(server, url, server_bodies[100], model, frame)
                print(f"{server}, {workers} worker(s): measuring, load average {_load()}", flush=True)
                if workers == 1:
                    for mode in ("keep-alive", "close"):
                        results[server, 1, -1 if mode == "close" else 0, 1] = _wrk(
                            url, server_bodies[1], 1, args.seconds, close=mode == "close"
                        )
                for n in SIZES:
                    for connections in (1, args.connections):
                        results[server, workers, n, connections] = _wrk(
                            url, server_bodies[n], connections, args.seconds
                        )
            finally:
                _stop(process)
    _report(results, floor, compiled, args.connections)


def _logging_in_process(frame) -> None:  # type: ignore[no-untyped-def]
    """The predict view in process, one row, log on and off alternating request by request: the
    request path's own added cost, with the writer thread running beside it."""
    from django.conf import settings
    from django.core.handlers.wsgi import WSGIHandler
    from django.test import RequestFactory

    from predictor.predlog import writer
    from predictor.serving.holder import holder

    holder().sync()
    body = json.dumps({"dataframe_split": json.loads(_rows(frame, 1).to_json(orient="split", index=False))}).encode()
    environ = RequestFactory().post("/api/v1/predict", body, content_type="application/json").environ
    settings.ALLOWED_HOSTS = ["testserver"]
    handler = WSGIHandler()
    times: dict[float, list[float]] = {1.0: [], 0.0: []}
    for i in range(6000):
        sample = 1.0 if i % 2 else 0.0
        settings.PREDICTION_LOG_SAMPLE = sample
        started = time.perf_counter()
        b"".join(handler({**environ, "wsgi.input": io.BytesIO(body)}, lambda status, headers: None))
        times[sample].append(time.perf_counter() - started)
    writer().flush(timeout=60)
    on, off = (statistics.median(times[s][500:]) * 1000 for s in (1.0, 0.0))
    low_on, low_off = (min(times[s]) * 1000 for s in (1.0, 0.0))
    print(
        f"predict view in process, 1 row, 3,000 requests each, alternating: log on p50 {on:.3f} ms (min {low_on:.3f}), "
        f"off {off:.3f} ms (min {low_off:.3f}) -> {on - off:+.3f} ms at p50; written {writer().stats.written}, "
        f"sampled out when written (the setting alternates) {writer().stats.sampled_out}, "
        f"dropped {writer().stats.dropped_queue_full + writer().stats.dropped_write_failed}\n"
    )


def _logging_cost(env: dict, version: str, workdir: Path, body: Path, args: argparse.Namespace) -> None:
    """The log on against off, same machine, same minutes: p50 of one row on one connection,
    and requests/s of one row on --connections connections, both servers in each round, one
    after the other (which goes first alternates); medians over the rounds of the paired
    differences. --control logs on neither: what the method shows between two equal servers.

    Also what the rest of the machine moves less: the writer thread's own CPU per logged row
    (its counter in GET /api/v1/monitoring) and its share of the worker process's CPU (/proc)."""
    from predictor.models import Prediction

    token = uuid.uuid4().hex
    servers = {
        mode: _start_app({**env, "PREDICTION_LOG_SAMPLE": sample, "RETRAIN_API_TOKEN": token}, version, 1, workdir)
        for mode, sample in (("on", "0" if args.control else "1"), ("off", "0"))
    }
    for process, url, _ in servers.values():
        _wait(url, process, workdir / "logs")
    figures: dict[str, dict[str, list[float]]] = {mode: {"p50": [], "rps": [], "requests": []} for mode in servers}
    cpu = dict.fromkeys(servers, 0.0)
    loads = []
    try:
        for round_ in range(args.rounds):
            order = ("on", "off") if round_ % 2 == 0 else ("off", "on")
            for mode in order:
                process, url, _ = servers[mode]
                before = _children_cpu(process.pid)
                latency = _wrk(url, body, 1, args.seconds)
                throughput = _wrk(url, body, args.connections, args.seconds)
                cpu[mode] += _children_cpu(process.pid) - before
                figures[mode]["p50"].append(latency["p50"])
                figures[mode]["rps"].append(throughput["rps"])
                figures[mode]["requests"].append(latency["requests"] + throughput["requests"])
            loads.append(os.getloadavg()[0])
            on_rps, off_rps = figures["on"]["rps"][-1], figures["off"]["rps"][-1]
            print(
                f"round {round_ + 1}: load {loads[-1]:.1f}; "
                + "; ".join(f"{m} p50 {figures[m]['p50'][-1]:.3f} ms, {figures[m]['rps'][-1]:.0f} req/s" for m in order)
                + f" -> {(on_rps / off_rps - 1) * 100:+.1f}%",
                flush=True,
            )
        writer = _writer_stats(servers["on"][1], token)
    finally:
        for process, *_ in servers.values():
            _stop(process)
    on, off = ({k: statistics.median(v) for k, v in figures[m].items()} for m in ("on", "off"))
    p50_diffs = [a - b for a, b in zip(figures["on"]["p50"], figures["off"]["p50"], strict=True)]
    rps_ratios = [(a / b - 1) * 100 for a, b in zip(figures["on"]["rps"], figures["off"]["rps"], strict=True)]
    sent = {m: sum(figures[m]["requests"]) for m in servers}
    print(f"\nload average over the rounds: {min(loads):.1f}-{max(loads):.1f} on {os.cpu_count()} cores")
    if args.control:
        print("control: both servers log nothing; the differences below are the method's own noise")
    else:
        print(f"logged {Prediction.objects.count()} predictions; wrk counted {int(sent['on'])} in its windows")
    print(
        f"1 row, 1 connection, p50: on {on['p50']:.3f} ms, off {off['p50']:.3f} ms; paired difference, median of "
        f"{args.rounds} rounds {statistics.median(p50_diffs):+.3f} ms (from {min(p50_diffs):+.3f} to "
        f"{max(p50_diffs):+.3f}) (budget +0.1 ms)"
    )
    print(
        f"1 row, {args.connections} connections: on {on['rps']:.0f} req/s, off {off['rps']:.0f} req/s; paired "
        f"difference, median of {args.rounds} rounds {statistics.median(rps_ratios):+.1f}% (from "
        f"{min(rps_ratios):+.1f}% to {max(rps_ratios):+.1f}%) (budget -5%)"
    )
    print(
        "worker process CPU per request, all rounds: "
        + ", ".join(f"{m} {cpu[m] / sent[m] * 1e6:.0f} us" for m in servers)
        + " (moves with the machine's load)"
    )
    if writer.get("written"):
        print(
            f"writer thread: {writer['written']} rows in {writer['writes']} writes "
            f"({writer['written'] / max(1, writer['writes']):.0f} rows per write), {writer['cpu_seconds']:.2f} s CPU: "
            f"{writer['cpu_seconds'] / writer['written'] * 1e6:.1f} us per logged row, "
            f"{writer['cpu_seconds'] / cpu['on'] * 100:.1f}% of the worker's CPU; dropped "
            f"{writer['dropped_queue_full'] + writer['dropped_write_failed']}"
        )


def _children_cpu(pid: int) -> float:
    """CPU seconds (user + system) used so far by the child processes (gunicorn workers) of pid."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def _writer_stats(predict_url: str, token: str) -> dict:
    url = predict_url.replace("/api/v1/predict", "/api/v1/monitoring")
    with urlopen(Request(url, headers={"Authorization": f"Bearer {token}"}), timeout=60) as response:
        return json.loads(response.read())["prediction_log"]["this_process"]


def _load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def _artifacts(version: str, workdir: Path) -> Path:
    """The registered version's artifact folder (MLmodel, model file, signature), as the peers load it."""
    import mlflow

    from predictor.serving import registry

    registry.import_loaders()
    uri = f"models:/{os.environ['MODEL_NAME']}/{version}"
    return Path(mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=str(workdir / "artifacts")))


def _check_answers(server: str, url: str, body: Path, model, frame) -> None:  # type: ignore[no-untyped-def]
    """Every server must answer the 100-row body with the model's own labels, or it is not measured."""
    rows = _rows(frame, 100)
    expected = [str(label) for label in model.predict(rows)]
    request = Request(url, body.read_bytes(), {"Content-Type": "application/json"})
    with urlopen(request, timeout=60) as response:
        answer = json.loads(response.read())
    labels = answer["outputs"][0]["data"] if "outputs" in answer else answer.get("predictions")
    if [str(label) for label in labels] != expected:
        sys.exit(f"{server} answered other labels than the model's own on the same rows: {str(answer)[:300]}")


def _register_model(dataset: str):  # type: ignore[no-untyped-def]
    from django.core.management import call_command

    from demo.batches import demo_frame
    from ml.estimators import train
    from ml.features import prepare_features
    from predictor import services
    from predictor.serving import registry

    call_command("migrate", verbosity=0)
    from ml.task import CLASSIFICATION, REGRESSION

    task = CLASSIFICATION
    if dataset == "breast-cancer":
        from sklearn.datasets import load_breast_cancer

        data, target = load_breast_cancer(as_frame=True).frame, "target"
    elif dataset == "houses":
        data, target, task = demo_frame(3, "houses"), "price", REGRESSION
    else:
        data, target = demo_frame(3, "penguins"), "species"
    model = train(data, target, "random_forest", {"n_estimators": 100}, 42, task=task)
    features = prepare_features(data, target)
    logged = registry.log_model(
        model,
        params={"n_estimators": 100},
        metrics={},
        tags={},
        signature_input=features,
        input_example=features.head(5),
        run_name="bench",
    )
    services.deploy(logged.version, source="bootstrap", reason="benchmark")
    return logged.version, features, model


def _rows(frame, n: int):  # type: ignore[no-untyped-def]
    return frame.sample(n, replace=True, random_state=n).reset_index(drop=True)


def _write_body(workdir: Path, frame, n: int) -> Path:  # type: ignore[no-untyped-def]
    rows = _rows(frame, n)
    body = {"dataframe_split": json.loads(rows.to_json(orient="split", index=False))}
    path = workdir / f"body-{n}.json"
    path.write_text(json.dumps(body))
    return path


def _write_v2_body(workdir: Path, frame, n: int) -> Path:  # type: ignore[no-untyped-def]
    path = workdir / f"body-v2-{n}.json"
    path.write_text(json.dumps(peers.v2_body(_rows(frame, n))))
    return path


def _in_process(predict, rows, n: int, repeat: int = 200) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(max(20, repeat // max(1, n // 100))):
        started = time.perf_counter()
        predict(rows)
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def _compiled(model, frame, method: str = "predict_proba") -> dict[int, float]:  # type: ignore[no-untyped-def]
    """The served path's own arithmetic on the same rows, checked equal to the model's own `method`
    (predict_proba, or a regressor's predict) here too."""
    import numpy as np

    from predictor.serving import inference

    compiled = inference.compile_model(model)
    times = {}
    for n in SIZES:
        rows = _rows(frame, n)
        columns = inference.columns_of(rows)
        ours = getattr(compiled, method)
        difference = np.max(np.abs(ours(columns) - getattr(model, method)(rows)))
        if difference != 0:
            sys.exit(f"compiled inference differs from the model's own {method} by {difference:.3g} on {n} rows")
        times[n] = _in_process(ours, columns, n)
    return times


def _middleware_cost() -> None:
    """What Django's middleware adds to a request, measured on /healthz so that the model's own
    (noisier) time does not hide it; the predict view goes through the same middleware."""
    from django.conf import settings
    from django.core.handlers.wsgi import WSGIHandler
    from django.test import RequestFactory

    environ = RequestFactory().get("/healthz").environ
    settings.ALLOWED_HOSTS = ["testserver"]
    full = list(settings.MIDDLEWARE)
    timings = {}
    for name, middleware in (("all middleware", full), ("no middleware", [])):
        settings.MIDDLEWARE = middleware
        handler = WSGIHandler()
        for _ in range(200):
            b"".join(handler(dict(environ), lambda status, headers: None))
        runs = []
        for _ in range(2000):
            started = time.perf_counter()
            b"".join(handler(dict(environ), lambda status, headers: None))
            runs.append(time.perf_counter() - started)
        timings[name] = (statistics.median(runs) * 1000, min(runs) * 1000)
    settings.MIDDLEWARE = full
    print(
        "Django handler on /healthz, ms p50 (min): "
        + ", ".join(f"{k} {p50:.3f} ({low:.3f})" for k, (p50, low) in timings.items())
        + f" -> middleware costs {timings['all middleware'][0] - timings['no middleware'][0]:.3f} ms at p50\n"
    )


def _view_overhead(frame, n: int, method: str = "predict_proba") -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """(handler ms, the model's own `method` ms) for one n-row request, both the best of many runs: on a
    busy machine the minimum is the figure least disturbed by other processes."""
    from django.conf import settings
    from django.core.handlers.wsgi import WSGIHandler
    from django.test import RequestFactory

    from predictor.serving.holder import holder

    models = holder()
    models.sync()
    rows = _rows(frame, n)
    body = json.dumps({"dataframe_split": json.loads(rows.to_json(orient="split", index=False))}).encode()
    environ = RequestFactory().post("/api/v1/predict", body, content_type="application/json").environ
    settings.ALLOWED_HOSTS = ["testserver"]
    handler = WSGIHandler()
    repeat = 300 if n < 1000 else 60
    handled, predicted = [], []
    for _ in range(repeat):
        started = time.perf_counter()
        b"".join(handler({**environ, "wsgi.input": io.BytesIO(body)}, lambda status, headers: None))
        handled.append(time.perf_counter() - started)
        started = time.perf_counter()
        getattr(models.current.model, method)(rows)
        predicted.append(time.perf_counter() - started)
    return min(handled) * 1000, min(predicted) * 1000


def _ports(count: int) -> tuple[int, ...]:
    return tuple(_free_port() for _ in range(count))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait(url: str, process: subprocess.Popen, log: Path, ready: str | None = None) -> None:
    """Until the server answers: its readiness URL says 200, or its predict URL gives any HTTP answer."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"server exited (see the logs in {log.parent})")
        try:
            if ready:
                urlopen(ready, timeout=5)
            else:
                body = json.dumps({"dataframe_split": {"columns": [], "data": []}}).encode()
                urlopen(Request(url, body, {"Content-Type": "application/json"}), timeout=5)
        except Exception as exc:
            if not ready and getattr(exc, "code", None) is not None:
                return
            time.sleep(0.5)
            continue
        return
    sys.exit(f"server did not answer (see the logs in {log.parent})")


def _start_app(env: dict, version: str, workers: int, workdir: Path) -> tuple[subprocess.Popen, str, None]:
    port = _free_port()
    log_sample = env.get("PREDICTION_LOG_SAMPLE", "")
    log = workdir / f"app-{workers}-{env.get('COMPILED_INFERENCE', 'true')}-log{log_sample}.log"
    command = [sys.executable, "-m", "gunicorn", "config.wsgi:application", "-c", "config/gunicorn.py"]
    command += ["--bind", f"127.0.0.1:{port}", "--workers", str(workers)]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    return process, f"http://127.0.0.1:{port}/api/v1/predict", None


def _start_mlflow(env: dict, version: str, workers: int, workdir: Path) -> tuple[subprocess.Popen, str, None]:
    from django.conf import settings

    port = _free_port()
    log = workdir / f"mlflow-{workers}.log"
    # mlflow starts `uvicorn` by name: it must find the one of this virtualenv.
    path = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    mlflow_env = {**env, "MLFLOW_TRACKING_URI": settings.MLFLOW_TRACKING_URI, "PATH": path}
    command = [str(Path(sys.executable).parent / "mlflow"), "models", "serve", "--env-manager", "local"]
    command += ["-m", f"models:/{env['MODEL_NAME']}/{version}", "-h", "127.0.0.1", "-p", str(port), "-w", str(workers)]
    process = subprocess.Popen(command, env=mlflow_env, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    return process, f"http://127.0.0.1:{port}/invocations", None


def _stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


LUA = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
{close}
{headers}
local f = io.open("{body}", "rb"); wrk.body = f:read("*a"); f:close()
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %d %d %f %f %f\\n", summary.requests,
    e.status + e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99), summary.duration))
end
"""


def _wrk(
    url: str, body: Path, connections: int, seconds: int, close: bool = False, headers: dict[str, str] | None = None
) -> dict[str, float]:
    script = body.with_suffix(f".{connections}{'.close' if close else ''}{'.headers' if headers else ''}.lua")
    extra = "\n".join(f'wrk.headers["{name}"] = "{value}"' for name, value in (headers or {}).items())
    script.write_text(
        LUA.replace("{body}", str(body))
        .replace("{close}", 'wrk.headers["Connection"] = "close"' if close else "")
        .replace("{headers}", extra)
    )
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s", "-s", str(script), url]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    match = re.search(r"RESULT (\d+) (\d+) ([\d.]+) ([\d.]+) ([\d.]+)", output)
    if match is None:
        sys.exit(f"wrk printed no result:\n{output}")
    requests, errors, p50, p99, duration = (float(x) for x in match.groups())
    return {
        "rps": requests / (duration / 1e6),
        "p50": p50 / 1000,
        "p99": p99 / 1000,
        "errors": errors,
        "requests": requests,
    }


def _report(results: dict, floor: dict[int, float], compiled: dict[int, float], connections: int) -> None:
    order = {name: i for i, name in enumerate(SERVERS)}
    print(f"\nload average {_load()} ({os.cpu_count()} cores), at the end of the measurements")
    print(f"{'server':<9}{'workers':>8}{'rows':>6}{'conns':>6}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}")
    for (server, workers, n, conns), r in sorted(
        results.items(), key=lambda kv: (kv[0][1], kv[0][2], kv[0][3], order[kv[0][0]])
    ):
        rows = {0: "1 ka", -1: "1 cl"}.get(n, str(n))
        print(
            f"{server:<9}{workers:>8}{rows:>6}{conns:>6}{r['rps']:>10.1f}{r['p50']:>9.2f}{r['p99']:>9.2f}"
            f"{int(r['errors']):>8}"
        )
    print("\nGoals against the best peer of this run (the peer with the highest figure in that cell):")
    for workers in sorted({key[1] for key in results}):
        for n, conns in ((1, connections), (1, 1), (100, connections), (1000, 1), (1000, connections)):
            present = [p for p in PEERS if (p, workers, n, conns) in results]
            if not present or ("app", workers, n, conns) not in results:
                continue
            app = results["app", workers, n, conns]
            best = max(present, key=lambda p: results[p, workers, n, conns]["rps"])
            low = min(present, key=lambda p: results[p, workers, n, conns]["p99"])
            ref, ref99 = results[best, workers, n, conns], results[low, workers, n, conns]
            goal = "target >= 3x" if n == 1 else "target >= 1x"
            print(
                f"  {n} row(s), {workers} worker(s), {conns} conns: throughput {app['rps'] / ref['rps']:.1f}x {best}'s "
                f"({goal}); p99 {app['p99']:.2f} ms = {app['p99'] / ref99['p99']:.2f} of {low}'s {ref99['p99']:.2f} ms "
                "(target <= 0.5)"
            )
    if ("app", 1, 1, 1) in results:
        app1 = results["app", 1, 1, 1]
        print(
            f"  1 row, one connection: p50 {app1['p50']:.2f} ms vs in-process predict_proba {floor[1]:.2f} ms -> "
            f"{app1['p50'] - floor[1]:+.2f} ms; vs the compiled inference {compiled[1]:.2f} ms "
            f"-> {app1['p50'] - compiled[1]:+.2f} ms"
        )
    for server in SERVERS:
        if (server, 1, 0, 1) in results:
            keep, close = results[server, 1, 0, 1], results[server, 1, -1, 1]
            print(
                f"  {server}: one keep-alive connection p50 {keep['p50']:.2f} ms / p99 {keep['p99']:.2f} ms, "
                f"closing each time p50 {close['p50']:.2f} ms / p99 {close['p99']:.2f} ms"
            )


if __name__ == "__main__":
    main()
