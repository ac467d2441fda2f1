"""What the pipeline costs on top of the estimator, on a dataset of 100,000 to a million rows.

Builds a throwaway world in a temporary folder (SQLite database, MLflow store, git + DVC registry
with a local remote), publishes a synthetic dataset (version 1), trains the first champion, then
publishes a grown version 2 and times a full run on it: check, pull, validate, train, compare with
the champion (loaded from the registry and scored on the same holdout), deploy or keep, notify.
Beside it, the same estimator's own fit and score on the same rows, timed alone. The difference is
the pipeline's overhead (MLflow logging and registration, loading and scoring the champion,
bookkeeping). Last, a run on unchanged data, which must be skipped in well under a second.

Each run executes in a fresh child process, as a Celery worker would run it, so the child's peak
RSS (ru_maxrss) is the worker's memory for that run alone, compared with the in-memory size of
the frame the source returns.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import resource
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from workspace import isolated_django

ROOT = Path(__file__).resolve().parents[1]
DATA_PATH = "data/synthetic.csv"
WORKER_IMPORTS = (
    "mlflow.sklearn",
    "mlflow.models",
    "dvc.api",
    "dvc_data.hashfile.hash",
    "skops.io",
    "retraining.notify.channels",
    # First imported during a run (MLflow's SQL store, git, drift): 60 MiB a worker pays once.
    "mlflow.store.tracking.sqlalchemy_store",
    "mlflow.store.model_registry.sqlalchemy_store",
    "pygit2",
    "scmrepo.git",
    "dvc.repo",
    "ml.drift.drift",
    # First imported by a run's last steps: the URLs a notification links to (the panel's views and
    # DRF with them), GitPython, MLflow's pyfunc loader: 0.5 s a worker pays once.
    "config.urls",
    "git",
    "mlflow.pyfunc",
)


def synthetic(rows: int, seed: int) -> pd.DataFrame:
    """Three classes a forest can learn but not perfectly: numeric and categorical features, noise, gaps."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 1, (rows, 6))
    region = rng.choice(["north", "south", "east", "west"], rows)
    shift = pd.Series(region).map({"north": 0.8, "south": -0.8, "east": 0.3, "west": -0.3}).to_numpy()
    signal = x[:, 0] + 0.7 * x[:, 1] - 0.5 * x[:, 2] * x[:, 3] + shift + rng.normal(0, 0.8, rows)
    label = np.select([signal < -0.6, signal < 0.6], ["low", "mid"], "high")
    frame = pd.DataFrame(x.round(4), columns=[f"f{i}" for i in range(6)])
    frame["region"] = region
    frame.loc[rng.random(rows) < 0.01, "f5"] = np.nan
    frame["label"] = label
    return frame


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000, help="rows of version 1; version 2 has 20%% more")
    parser.add_argument("--estimator", default="random_forest")
    parser.add_argument("--params", default='{"n_estimators": 50, "max_depth": 14, "n_jobs": 1}')
    parser.add_argument(
        "--profile", metavar="PREFIX", help="write each run's cProfile stats to PREFIX.<time>.<pid> (pstats format)"
    )
    parser.add_argument(
        "--daily",
        type=int,
        metavar="N",
        help="publish the data as a DVC-tracked folder of N daily Parquet files (version 2 adds the last sixth)",
    )
    parser.add_argument("--child-run", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--child-estimator", metavar="CSV", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.profile:
        os.environ["PIPELINE_PROFILE"] = args.profile
    if args.child_run:
        child_run()
        return
    if args.child_estimator:
        child_estimator(args.child_estimator, args.estimator, json.loads(args.params))
        return
    print(
        f"reproduce: cd {ROOT} && {sys.executable} bench/pipeline.py --rows {args.rows} "
        f"--estimator {args.estimator} --params '{args.params}'" + (f" --daily {args.daily}" if args.daily else ""),
        flush=True,
    )

    work = isolated_django(
        "bench-pipeline-",
        DATA_PATH="data" if args.daily else DATA_PATH,
        TARGET_COLUMN="label",
        TRAINING_ESTIMATOR=args.estimator,
        TRAINING_PARAMS=args.params,
        MODEL_NAME="bench-synthetic",
        LOG_LEVEL="WARNING",
    )
    from django.conf import settings

    from ml.estimators import train
    from ml.evaluate import evaluate
    from ml.split import split, split_key
    from retraining import data
    from retraining.data.formats import format_for

    data.init_registry(Path(settings.DATA_REGISTRY), settings.DATA_REMOTE)

    def publish(frame: pd.DataFrame, label: str) -> None:
        csv_file = work / f"{label}.csv"
        frame.to_csv(csv_file, index=False)
        if args.daily:
            return publish_days(frame, label)
        version = data.publish(settings.DATA_REGISTRY, DATA_PATH, csv_file, f"Publish {label}")
        print(f"published {label}: {len(frame)} rows, {version.size / 1e6:.1f} MB", flush=True)

    def publish_days(frame: pd.DataFrame, label: str) -> None:
        """The rows as daily Parquet files in the registry's `data` folder, the files already
        there kept: version 1 is the first five sixths of the days, version 2 adds the rest."""
        from retraining.data import vcs

        repo = Path(settings.DATA_REGISTRY)
        (repo / "data").mkdir(exist_ok=True)
        first_days = args.daily * 5 // 6
        days = first_days if label == "version 1" else args.daily
        starts = [len(frame) * day // days for day in range(days + 1)]
        written = sorted((repo / "data").glob("*.parquet"))
        for day in range(len(written), days):
            day_file = repo / "data" / f"day-{day + 1:02d}.parquet"
            frame.iloc[starts[day] : starts[day + 1]].to_parquet(day_file, index=False)
        vcs.dvc(["add", "--quiet", "data"], repo, error="dvc add data failed")
        vcs.dvc(["push", "--quiet"], repo, error="dvc push failed")
        vcs.git(["add", "data.dvc", ".gitignore"], repo, error="git add failed")
        vcs.git([*vcs.identity_args(repo), "commit", "--quiet", "-m", f"Publish {label}"], repo, error="commit failed")
        size = sum(path.stat().st_size for path in (repo / "data").glob("*.parquet"))
        print(f"published {label}: {len(frame)} rows in {days} Parquet files, {size / 1e6:.1f} MB", flush=True)

    first = synthetic(args.rows, seed=1)
    publish(first, "version 1")
    done = run()
    print(f"first champion: {done['status']} in {done['seconds']:.1f} s, peak RSS {done['rss'] / 2**20:.0f} MiB")

    grown = pd.concat([first, synthetic(args.rows // 5, seed=2)], ignore_index=True)
    del first
    publish(grown, "version 2")
    # The frame as the run holds it: what the source's CSV reader returns for version 2.
    if args.daily:
        source = data.source_from_settings()
        as_read = source.pull(source.version())
    else:
        as_read = format_for(DATA_PATH).read(work / "version 2.csv", "version 2")
    frame_bytes = int(as_read.memory_usage(deep=True).sum())
    del as_read
    params = json.loads(args.params)
    training, holdout = split(grown, settings.HOLDOUT_FRACTION, split_key(grown, "label"))
    del grown

    def estimator_alone() -> tuple[float, float, float]:
        """(fit, score, CPU seconds of both): on a loaded machine the CPU time is the fair figure."""
        cpu, started = time.process_time(), time.perf_counter()
        model = train(training, "label", args.estimator, params, settings.TRAINING_SEED)
        fitted = time.perf_counter()
        evaluate(model, holdout, "label")
        return fitted - started, time.perf_counter() - fitted, time.process_time() - cpu

    # Timed before and after the run, so a machine busy with something else skews both sides alike.
    before = estimator_alone()
    print(f"estimator alone: fit {before[0]:.1f} s, score {before[1]:.1f} s", flush=True)
    done = run()
    if done["status"] not in ("deployed", "kept"):
        raise SystemExit(f"the measured run ended {done['status']}: {done['error'] or done['reasons']}")
    after = estimator_alone()
    # Its memory apart, in a fresh process as the run's: what the estimator needs whatever the pipeline does.
    alone_rss = json.loads(
        _child(
            [
                sys.executable,
                __file__,
                "--child-estimator",
                str(work / "version 2.csv"),
                "--estimator",
                args.estimator,
                "--params",
                args.params,
            ]
        )
    )
    fit, score = (before[0] + after[0]) / 2, (before[1] + after[1]) / 2
    alone_cpu = (before[2] + after[2]) / 2
    skipped = run()

    alone, whole = fit + score, done["seconds"]
    overhead = whole - alone
    rows = len(training) + len(holdout)
    print(f"\nload average {' '.join(f'{x:.1f}' for x in os.getloadavg())} ({os.cpu_count()} cores)")
    print(f"{'measure (version 2: ' + str(rows) + ' rows)':<52} {'seconds':>9} {'share':>7}")
    print(f"{'estimator alone: fit (mean of 2)':<52} {fit:>9.2f}")
    print(f"{'estimator alone: score on the holdout (mean of 2)':<52} {score:>9.2f}")
    print(f"{'whole run (' + done['status'] + ')':<52} {whole:>9.2f} {1:>7.0%}")
    print(f"{'overhead = whole run - (fit + score)':<52} {overhead:>9.2f} {overhead / whole:>7.0%}")
    print(f"{'overhead / (fit + score) (goal <= 20%)':<52} {'':>9} {overhead / alone:>7.0%}")
    cpu_overhead = done["cpu"] - alone_cpu
    print(f"{'CPU seconds: estimator alone (fit + score)':<52} {alone_cpu:>9.2f}")
    print(f"{'CPU seconds: whole run':<52} {done['cpu']:>9.2f}")
    print(f"{'CPU overhead / (fit + score) (goal <= 20%)':<52} {'':>9} {cpu_overhead / alone_cpu:>7.0%}")
    peaks = done.get("step_rss", {})
    for step in done["steps"]:
        peak = peaks.get(step["name"])
        ends = done.get("ends", {})
        shown = f"  peak RSS {peak / 2**20:.0f} MiB" if peak else ""
        if step["name"] in ends:
            shown += f" (start {ends[step['name'] + ':start'] / 2**20:.0f}, end {ends[step['name']] / 2**20:.0f})"
        print(f"  step {step['name']:<46} {step.get('duration', 0):>9.2f}{shown}")
    print(f"{'run on unchanged data (' + skipped['status'] + ')':<52} {skipped['seconds']:>9.2f}")
    print(f"{'frame in memory (deep), MiB':<52} {frame_bytes / 2**20:>9.0f}")
    print(f"{'peak RSS of the process running the pipeline, MiB':<52} {done['rss'] / 2**20:>9.0f}")
    print(f"{'  = x the frame (goal <= 4x)':<52} {done['rss'] / frame_bytes:>9.1f}")
    print(f"{'  the same process before the run (imports), MiB':<52} {done['rss_start'] / 2**20:>9.0f}")
    growth = done["rss"] - done["rss_start"]
    print(f"{'  growth during the run, MiB':<52} {growth / 2**20:>9.0f}")
    print(f"{'  = x the frame':<52} {growth / frame_bytes:>9.1f}")
    print(f"{'imports before the run (untimed: a worker pays them once)':<52} {done['imports']:>9.2f}")
    held, fit_peak = alone_rss["rows"] - alone_rss["start"], alone_rss["peak"] - alone_rss["rows"]
    print("estimator alone in a fresh process (same imports; the rows read, split and the frame let go):")
    print(f"{'  training + holdout rows held, MiB':<52} {held / 2**20:>9.0f}")
    print(f"{'  fit + score on them: peak growth over the rows, MiB':<52} {fit_peak / 2**20:>9.0f}")
    print(f"{'  = x the frame':<52} {fit_peak / frame_bytes:>9.1f}")
    print(f"{'  rows and fit together = x the frame':<52} {(held + fit_peak) / frame_bytes:>9.1f}")
    shutil.rmtree(work, ignore_errors=True)


def run() -> dict:
    """One whole run in a fresh process, as a worker runs it; its report comes back as JSON."""
    return json.loads(_child([sys.executable, __file__, "--child-run"]))


def _child(command: list[str]) -> str:
    """The last line a fresh process printed."""
    output = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    if output.returncode != 0:
        raise SystemExit(f"the run's process failed:\n{output.stderr[-3000:]}")
    return output.stdout.strip().splitlines()[-1]


def child_run() -> None:
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from retraining.pipeline import flow
    from retraining.runs import store

    # A worker pays these imports on its first run only: paid here untimed, reported apart.
    importing = time.perf_counter()
    for module in WORKER_IMPORTS:
        importlib.import_module(module)
    imports = time.perf_counter() - importing
    rss_start = _rss_now()
    sampler = _StepPeaks()
    flow.STEPS = tuple(sampler.wrap(step) for step in flow.STEPS)
    cpu = time.process_time()
    started = time.perf_counter()
    queued, _ = store.start_run("cli")
    if os.environ.get("PIPELINE_PROFILE"):
        import cProfile

        profiler = cProfile.Profile()
        done = profiler.runcall(flow.execute, queued.pk)
        profiler.dump_stats(f"{os.environ['PIPELINE_PROFILE']}.{time.time():.0f}.{os.getpid()}")
    else:
        done = flow.execute(queued.pk)
    seconds = time.perf_counter() - started
    cpu = time.process_time() - cpu
    sampler.stop()
    report = {
        "status": done.status,
        "error": done.error,
        "reasons": done.reasons,
        "steps": done.steps,
        "seconds": seconds,
        "cpu": cpu,
        "rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "rss_start": rss_start,
        "imports": imports,
        "step_rss": sampler.peaks,
        "ends": sampler.ends,
    }
    print(json.dumps(report, default=str))


def child_estimator(csv_file: str, estimator: str, params: dict) -> None:
    """RSS of the estimator's fit and score alone, on the run's canonical split of `csv_file`."""
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.conf import settings

    from ml.estimators import train
    from ml.evaluate import evaluate
    from ml.split import canonical_split, split_key
    from retraining.data.formats import format_for
    from retraining.pipeline.memory import release_free_memory

    for module in WORKER_IMPORTS:
        importlib.import_module(module)
    start = _rss_now()
    frame = format_for(DATA_PATH).read(Path(csv_file), "version 2")
    parts = canonical_split(frame, settings.HOLDOUT_FRACTION, split_key(frame, settings.TARGET_COLUMN))
    del frame
    release_free_memory()
    rows = _rss_now()
    sampler = _StepPeaks()
    sampler.current = "estimator"
    model = train(parts.training, settings.TARGET_COLUMN, estimator, params, settings.TRAINING_SEED)
    evaluate(model, parts.holdout, settings.TARGET_COLUMN)
    sampler.stop()
    print(json.dumps({"start": start, "rows": rows, "peak": max(sampler.peaks["estimator"], _rss_now())}))


class _StepPeaks:
    """The largest RSS seen during each step, sampled every 10 ms by a thread (ru_maxrss is only
    the whole process's peak). A sample can miss a spike shorter than the interval."""

    def __init__(self) -> None:
        self.peaks: dict[str, int] = {}
        self.ends: dict[str, int] = {}
        self.current = ""
        self.running = True
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()

    def wrap(self, step: Any) -> Any:
        """The pipeline step `step`, measured."""
        import dataclasses

        function = step.function

        def measured(state: Any, resources: Any) -> Any:
            self.current = step.name
            self.peaks[step.name] = max(self.peaks.get(step.name, 0), _rss_now())
            self.ends[step.name + ":start"] = _rss_now()
            try:
                return function(state, resources)
            finally:
                self.peaks[step.name] = max(self.peaks[step.name], _rss_now())
                self.ends[step.name] = _rss_now()
                self.current = ""

        return dataclasses.replace(step, function=measured)

    def _sample(self) -> None:
        while self.running:
            name = self.current
            if name:
                self.peaks[name] = max(self.peaks.get(name, 0), _rss_now())
            time.sleep(0.005)

    def stop(self) -> None:
        self.running = False
        self.thread.join()


def _rss_now() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


if __name__ == "__main__":
    main()
