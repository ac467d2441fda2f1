"""The production column, run on this machine as Heroku would run it.

PostgreSQL and Redis on 127.0.0.1, a real `mlflow server` (the full mlflow, from .venv-mlflow-ui)
on PostgreSQL with its artifacts on an S3-compatible server (moto's server mode), the data
registry's DVC remote on that same server.
The Procfile's release step runs, then bootstrap (app.json's postdeploy), then web, worker and beat,
each in its own process group as a dyno. The product then has to serve, retrain, deploy and hot
swap, and survive its worker being stopped (SIGTERM to every process of the dyno) mid-training.

It uses its own databases (wt_production, wt_production_mlflow) and Redis DB 4, whatever the
suite's environment says, and drops and recreates them first.
"""

import json
import os
import signal
import subprocess
import time
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.support.column import DATA_PATH, ROOT, Column, Stores, procfile, running_column, trigger_retrain, wait_for
from tests.support.processes import PENGUIN

STORES = Stores("wt_production", "wt_production_mlflow", "redis://127.0.0.1:6379/4")

# It brings its own databases, so it proves nothing more in the suite's SQLite column: it runs once,
# where the suite itself runs on PostgreSQL and Redis.
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not os.environ.get("DATABASE_URL", "").startswith("postgres"),
        reason="the production column runs with the suite on PostgreSQL (DATABASE_URL=postgres://...)",
    ),
]


def sql(query: str, *params: object) -> list[tuple]:
    return STORES.sql(query, *params)


def run_row(run_id: int) -> dict:
    status, step, error, reasons = sql(
        "select status, step, error, reasons from retraining_retrainingrun where id = %s", run_id
    )[0]
    return {"status": status, "step": step, "error": error, "reasons": reasons}


@pytest.fixture
def column(tmp_path: Path) -> Iterator[Column]:
    extra = {
        "RETRAIN_API_TOKEN": uuid.uuid4().hex,
        "WEB_CONCURRENCY": "2",
        "DJANGO_SUPERUSER_PASSWORD": "pw-admin-column",
    }
    with running_column(tmp_path, STORES, **extra) as deployment:
        yield deployment


def predict(base: str) -> requests.Response:
    answer = requests.post(f"{base}/api/v1/predict", json={"instances": [PENGUIN]}, timeout=10)
    assert answer.status_code == 200, answer.text
    return answer


def trigger_retrain_over_rest(column: Column) -> int:
    """What a script or CI does: POST /api/v1/runs with the API token."""
    answer = requests.post(
        f"http://127.0.0.1:{column.env['PORT']}/api/v1/runs",
        headers={"Authorization": f"Bearer {column.env['RETRAIN_API_TOKEN']}"},
        timeout=30,
    )
    assert answer.status_code == 201, answer.text
    return int(answer.json()["id"])


def stop_like_heroku(dyno: subprocess.Popen, logs: Path) -> None:
    """SIGTERM to every process of the dyno, then SIGKILL to whatever still runs 30 s later.

    What must be done by then (the run closed and queued again) is asserted by the caller on the
    database; a process still exiting at the SIGKILL loses nothing, so it is reported, not failed.
    """
    os.killpg(dyno.pid, signal.SIGTERM)
    try:
        dyno.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(dyno.pid, signal.SIGKILL)
        dyno.wait(timeout=10)
        tails = "\n".join(f"--- {log.name}\n{log.read_text()[-3000:]}" for log in sorted(logs.glob("worker*.log")))
        warnings.warn(f"the worker dyno was still running 30 s after SIGTERM and was killed\n{tails}", stacklevel=2)


def finished(run_id: int) -> dict | None:
    row = run_row(run_id)
    return row if row["status"] not in {"queued", "running"} else None


def test_the_production_column_serves_retrains_hot_swaps_and_survives_a_stopped_worker(column: Column) -> None:
    from demo import batches

    commands = procfile()
    base = f"http://127.0.0.1:{column.env['PORT']}"
    logs = column.logs

    # Build (as the buildpack does), release, then app.json's postdeploy.
    column.run("collectstatic", "python manage.py collectstatic --noinput -v0")
    column.run("release", commands["release"])
    assert sql("select count(*) from django_celery_beat_periodictask where task like 'retraining.%%'")[0][0] >= 1
    # A deliberately weak first champion, so the retrain below has something to beat.
    weak = {"TRAINING_ESTIMATOR": "decision_tree", "TRAINING_PARAMS": '{"max_depth": 1}'}
    column.run("bootstrap", "python manage.py bootstrap", timeout=600, **weak)

    web = column.start("web", commands["web"])
    worker = column.start("worker", commands["worker"])
    beat = column.start("beat", commands["beat"])
    # Ready, not just alive: each web process loads the champion in its follower thread after the fork.
    wait_for(lambda: requests.get(f"{base}/readyz", timeout=3).ok, 180, "web never became ready", logs)
    first = predict(base)
    assert first.headers["X-Model-Version"] == "1"
    assert first.json()["predictions"] == ["Gentoo"]

    # WhiteNoise serves the collected, fingerprinted static files from gunicorn itself.
    manifest = json.loads((ROOT / "staticfiles" / "staticfiles.json").read_text())["paths"]
    css = requests.get(f"{base}/static/{manifest['admin/css/base.css']}", timeout=10)
    assert css.status_code == 200
    assert "max-age=315360000" in css.headers["Cache-Control"]

    # New data, a retrain, completed by the worker, deployed, and swapped into the running web.
    batches.publish_next_demo_batch(column.registry, DATA_PATH, "penguins")
    run_id = trigger_retrain_over_rest(column)
    outcome = wait_for(lambda: finished(run_id), 300, "the worker never finished the run", logs)
    assert outcome["status"] == "deployed", outcome
    wait_for(lambda: predict(base).headers["X-Model-Version"] == "2", 60, "web never served version 2", logs)

    # Everything durable lives off the dynos: models on S3, data on S3, runs in PostgreSQL.
    import boto3

    s3 = boto3.client("s3", endpoint_url=column.env["MLFLOW_S3_ENDPOINT_URL"])
    assert s3.list_objects_v2(Bucket="mlflow").get("KeyCount", 0) > 0
    assert s3.list_objects_v2(Bucket="dvc").get("KeyCount", 0) >= 2
    assert not (Path(column.env["VAR_DIR"]) / "mlflow.db").exists()

    # Heroku stops the worker dyno mid-training: SIGTERM to every process in it.
    batches.publish_next_demo_batch(column.registry, DATA_PATH, "penguins")
    # Long enough to be stopped in training, short enough for the run queued again, which trains
    # the same frozen setup to the end.
    slow_run = trigger_retrain(column, TRAINING_PARAMS='{"n_estimators": 5000}')
    wait_for(lambda: run_row(slow_run)["step"] == "train", 180, "the run never reached training", logs)
    time.sleep(2)
    stop_like_heroku(worker, logs)
    stopped = run_row(slow_run)
    assert stopped["status"] == "failed"
    assert "stopped (SIGTERM) during step 'train'" in stopped["error"]
    again = int(stopped["reasons"][-1].rsplit("#", 1)[1])
    assert run_row(again)["status"] == "queued"
    setup = sql("select setup from retraining_retrainingrun where id = %s", again)[0][0]
    setup = json.loads(setup) if isinstance(setup, str) else setup
    assert setup["params"] == {"n_estimators": 5000}
    assert sql("select count(*) from predictor_deployment")[0][0] == 2
    assert predict(base).headers["X-Model-Version"] == "2"

    # The next worker dyno picks the queued run up and runs it from the start.
    column.start("worker-2", commands["worker"])
    outcome = wait_for(lambda: finished(again), 300, "the next worker never ran the queued run", logs)
    assert outcome["status"] in {"deployed", "kept"}, outcome
    served = sql("select version from predictor_deployment order by id desc limit 1")[0][0]
    wait_for(lambda: predict(base).headers["X-Model-Version"] == served, 60, f"web never served {served}", logs)
    assert web.poll() is None
    assert beat.poll() is None
