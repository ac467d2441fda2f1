"""End to end through real processes: a regression, from a registry of house prices to live RMSE.

The houses demo data sits in a real git + DVC registry; `manage.py bootstrap` trains the first
regressor and deploys it; gunicorn serves numbers; a second batch is published and a run started
over the API is run by a Celery worker, which deploys a better regressor; the web process swaps to
it, takes numeric feedback (and refuses a label that is not a number), and the Monitoring page
shows the served version's live RMSE. Runs on whichever column the suite runs on (SQLite and the
filesystem broker, or PostgreSQL and Redis): every process shares the test database and broker.
"""

import json
import math
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from django.core.management import call_command

from config.celery import app
from demo import batches
from predictor.models import Prediction
from retraining import data
from retraining.models import RetrainingRun
from tests.support.browser import start, stop
from tests.support.processes import free_port, manage, serves, signed_in, subprocess_env, wait_for, wait_healthy
from tests.support.workers import PoolWorker

pytestmark = pytest.mark.slow
BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parents[1]
TOKEN = "regression-e2e-token"
PASSWORD = "regression-e2e-pw"
# Few trees: the test is about the loop, not the model; the second batch still wins by far.
PARAMS = {"n_estimators": 15}
FEATURES = ["area_m2", "rooms", "age_years", "distance_km", "district", "condition"]


@pytest.fixture
def env(transactional_db, model_name, served_model, settings, tmp_path: Path) -> dict[str, str]:
    """Every process reads the houses from a registry holding demo batch 1 (200 rows)."""
    settings.DATA_REGISTRY = str(tmp_path / "registry")
    settings.DATA_REMOTE = str(tmp_path / "remote")
    settings.DATA_CACHE_DIR = tmp_path / "cache"
    settings.DEMO_DATASET = "houses"
    settings.DATA_PATH = "data/houses.csv"
    settings.TARGET_COLUMN = "price"
    batches.ensure_demo_registry(tmp_path / "registry", settings.DATA_REMOTE, settings.DATA_PATH, dataset="houses")
    return subprocess_env(
        TASK="",
        TRAINING_ESTIMATOR="random_forest",
        TRAINING_PARAMS=json.dumps(PARAMS),
        RETRAIN_API_TOKEN=TOKEN,
        DJANGO_SUPERUSER_USERNAME="staff",
        DJANGO_SUPERUSER_PASSWORD=PASSWORD,
        PREDICTION_LOG_SAMPLE="1",
    )


@pytest.fixture
def stack(env, tmp_path: Path) -> Iterator[tuple[str, PoolWorker]]:
    """gunicorn and a Celery worker on the test database, started side by side; the web's URL."""
    call_command("collectstatic", "--noinput", verbosity=0)
    app.control.purge()
    port = free_port()
    log = tmp_path / "web.log"
    process = start(
        [str(BIN / "gunicorn"), "config.wsgi", "--config", "config/gunicorn.py"],
        log,
        {**env, "PORT": str(port), "WEB_CONCURRENCY": "1", "MODEL_POLL_INTERVAL": "0.5"},
    )
    worker = None
    base = f"http://127.0.0.1:{port}"
    try:
        worker = PoolWorker(tmp_path, PARAMS)
        wait_healthy(base, process, log, 120)
        yield base, worker
    finally:
        if worker is not None:
            worker.stop()
            print(f"--- worker\n{worker.log.read_text()[-2500:]}")
        stop(process)
        print(f"--- web\n{log.read_text()[-2500:]}")


def houses_to_price(base: str, version: str) -> tuple[list[str], list[float], list[float]]:
    """Houses no model trained on, priced by the web: the ids, the prices given, the true prices."""
    houses = batches.demo_frame(3, "houses").tail(60)
    instances = [{k: (None if v != v else v) for k, v in row.items()} for row in houses[FEATURES].to_dict("records")]
    answer = requests.post(f"{base}/api/v1/predict", json={"instances": instances}, timeout=30)
    assert answer.status_code == 200, answer.text
    assert answer.headers["X-Model-Version"] == version
    body = answer.json()
    assert all(isinstance(p, float) and math.isfinite(p) for p in body["predictions"]), body["predictions"][:5]
    assert "probabilities" not in body
    return body["prediction_ids"], body["predictions"], houses["price"].tolist()


def run_over_api(base: str, run_id: int) -> dict:
    answer = requests.get(f"{base}/api/v1/runs/{run_id}", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.json()


def retrain_over_api(base: str, tmp_path: Path) -> dict:
    """Batch 2 (2,000 rows) published to the registry, a run started over the API and run by the worker."""
    from django.conf import settings

    batch = tmp_path / "batch2.csv"
    batches.demo_frame(2, "houses").to_csv(batch, index=False)
    data.publish(settings.DATA_REGISTRY, settings.DATA_PATH, batch, "Batch 2")
    started = requests.post(f"{base}/api/v1/runs", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
    assert started.status_code == 201, started.text
    run_id = started.json()["id"]
    return wait_for(lambda: (r := run_over_api(base, run_id))["finished_at"] and r, 300, f"run #{run_id}")


def test_a_regression_bootstraps_retrains_serves_numbers_takes_feedback_and_shows_live_rmse(env, stack, tmp_path):
    web, worker = stack
    manage(env, "bootstrap")
    first = RetrainingRun.objects.get()
    assert first.status == "deployed", (first.error, first.reasons)
    assert first.deployment.data_version["task"] == "regression"
    wait_for(lambda: serves(web, first.model_version), 60, f"v{first.model_version} served")
    houses_to_price(web, first.model_version)

    run = retrain_over_api(web, tmp_path)
    worker.stop()  # its work is done: the rest of the test has the CPU
    # 2,000 rows against 200 of a rule with interactions: the gate sees a real fall in RMSE.
    assert run["status"] == "deployed", (run["status"], run["error"], run["reasons"])
    second = RetrainingRun.objects.get(pk=run["id"])
    assert second.challenger_metrics["rmse"] < first.challenger_metrics["rmse"]
    version = second.model_version
    wait_for(lambda: serves(web, version), 60, f"v{version} served by the running web process")

    ids, prices, truth = houses_to_price(web, version)
    wait_for(lambda: Prediction.objects.filter(id__in=ids).count() == len(ids), 30, "the web logged every prediction")
    refused = requests.post(f"{web}/api/v1/feedback", json={"prediction_id": ids[0], "label": "cheap"}, timeout=10)
    assert refused.status_code == 400, refused.text
    assert "number" in refused.text, refused.text
    assert "cheap" in refused.text, refused.text
    feedback = [{"prediction_id": i, "label": t} for i, t in zip(ids, truth, strict=True)]
    answer = requests.post(f"{web}/api/v1/feedback", json={"feedback": feedback}, timeout=30)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"recorded": len(ids)}

    rmse = math.sqrt(sum((p - t) ** 2 for p, t in zip(prices, truth, strict=True)) / len(ids))
    page = signed_in(web, "staff", PASSWORD).get(f"{web}/panel/monitoring/", timeout=30)
    assert page.status_code == 200
    table = re.search(rf'data-quality-version="{version}">(.*?)</table>', page.text, re.S)
    assert table, page.text[-3000:]
    row = re.search(r"<tr><td>rmse</td>(.*?)</tr>", table.group(1), re.S)
    assert row, table.group(1)
    holdout, last_day, *_ = re.findall(r'<td class="num">([\d.]+)', row.group(1))
    assert float(holdout) == pytest.approx(second.challenger_metrics["rmse"], abs=1e-3)
    assert float(last_day) == pytest.approx(rmse, abs=1e-3)
    assert f"({len(ids)} labels)" in table.group(1)
