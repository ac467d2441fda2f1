"""What the pipeline costs on top of the estimator, on a dataset of 100,000+ rows.

Builds a throwaway world in a temporary folder (SQLite database, MLflow store, git + DVC registry
with a local remote), publishes a synthetic dataset (version 1), trains the first champion, then
publishes a grown version 2 and times a full run on it: check, pull, validate, train, compare with
the champion (loaded from the registry and scored on the same holdout), deploy or keep, notify.
Beside it, the same estimator's own fit + score on the same rows, timed alone. The difference is
the pipeline's overhead (MLflow logging and registration, loading and scoring the champion,
bookkeeping). Last, a run on unchanged data, which must be skipped in well under a second.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
DATA_PATH = "data/synthetic.csv"


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
    args = parser.parse_args()
    print(f"reproduce: cd {ROOT} && {sys.executable} bench/pipeline.py --rows {args.rows}", flush=True)

    work = Path(tempfile.mkdtemp(prefix="bench-pipeline-"))
    os.environ.update(
        VAR_DIR=str(work / "var"),
        DJANGO_SETTINGS_MODULE="config.settings",
        DATA_REGISTRY=str(work / "registry"),
        DATA_REMOTE=str(work / "remote"),
        DATA_PATH=DATA_PATH,
        TARGET_COLUMN="label",
        TRAINING_ESTIMATOR=args.estimator,
        TRAINING_PARAMS=args.params,
        MODEL_NAME="bench-synthetic",
        LOG_LEVEL="WARNING",
    )
    for name in ("DATABASE_URL", "REDIS_URL", "MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI", "SLACK_WEBHOOK_URL"):
        os.environ.pop(name, None)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    from retraining import data, pipeline, runs
    from retraining.steps.evaluate import evaluate
    from retraining.steps.split import split, split_key
    from retraining.steps.train import train

    call_command("migrate", verbosity=0)
    data.init_registry(Path(settings.DATA_REGISTRY), settings.DATA_REMOTE)

    def publish(frame: pd.DataFrame, label: str) -> None:
        csv_file = work / f"{label}.csv"
        frame.to_csv(csv_file, index=False)
        version = data.publish(settings.DATA_REGISTRY, DATA_PATH, csv_file, f"Publish {label}")
        print(f"published {label}: {len(frame)} rows, {version.size / 1e6:.1f} MB", flush=True)

    def run() -> tuple[float, object]:
        started = time.perf_counter()
        queued, _ = runs.start_run("cli")
        done = pipeline.execute(queued.pk)
        return time.perf_counter() - started, done

    first = synthetic(args.rows, seed=1)
    publish(first, "version 1")
    seconds, done = run()
    print(f"first champion: {done.status} in {seconds:.1f} s", flush=True)

    grown = pd.concat([first, synthetic(args.rows // 5, seed=2)], ignore_index=True)
    publish(grown, "version 2")
    params = json.loads(args.params)
    training, holdout = split(grown, settings.HOLDOUT_FRACTION, split_key(grown, "label"))

    def estimator_alone() -> float:
        started = time.perf_counter()
        model = train(training, "label", args.estimator, params, settings.TRAINING_SEED)
        evaluate(model, holdout, "label")
        return time.perf_counter() - started

    # Timed before and after the run, so a machine busy with something else skews both sides alike.
    before = estimator_alone()
    whole, done = run()
    if done.status not in ("deployed", "kept"):
        raise SystemExit(f"the measured run ended {done.status}: {done.error or done.reasons}")
    alone = (before + estimator_alone()) / 2

    skipped_seconds, skipped = run()

    overhead = whole - alone
    print()
    print(f"{'measure (version 2: ' + str(len(grown)) + ' rows)':<52} {'seconds':>9} {'share':>7}")
    print(f"{'estimator alone: fit + score on the holdout (mean of 2)':<52} {alone:>9.2f}")
    print(f"{'whole run (' + done.status + ')':<52} {whole:>9.2f} {1:>7.0%}")
    print(f"{'overhead = whole run - estimator alone':<52} {overhead:>9.2f} {overhead / whole:>7.0%}")
    print(f"{'budget: 20% of the run + 5 s':<52} {0.2 * whole + 5:>9.2f}")
    for step in done.steps:
        print(f"  step {step['name']:<46} {step.get('duration', 0):>9.2f}")
    print(f"{'run on unchanged data (' + skipped.status + ')':<52} {skipped_seconds:>9.2f}")
    print(f"within budget: {'yes' if overhead <= 0.2 * whole + 5 else 'NO'}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
