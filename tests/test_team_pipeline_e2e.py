"""End to end through real processes: a team's own pipeline, from a module outside the project on
PYTHONPATH (a copy of docs/examples/team_pipeline.py), bootstraps the first champion (`manage.py
bootstrap`), is served by gunicorn, retrains in a Celery worker on a run started over the API,
deploys or keeps, answers a prediction, is reproduced by `manage.py reproduce`, and every run names
its path and the team code's version. Runs on whichever column the suite runs on: every process
shares the test database.
"""

import hashlib
import shutil
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from django.core.management import call_command

from config.celery import app
from demo.batches import demo_frame
from retraining.models import RetrainingRun
from tests.support.processes import gunicorn, manage, serves, subprocess_env, wait_for
from tests.support.workers import PoolWorker

pytestmark = pytest.mark.slow
BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parents[1]
TOKEN = "team-pipeline-e2e-token"
PARAMS = '{"max_iter": 40}'


@pytest.fixture
def team_code(tmp_path: Path) -> tuple[str, Path]:
    """The worked example copied outside the project under a name of the team's own."""
    folder = tmp_path / "team-code"
    folder.mkdir()
    module = f"team_churn_{uuid.uuid4().hex[:8]}"
    shutil.copy(ROOT / "docs" / "examples" / "team_pipeline.py", folder / f"{module}.py")
    return f"{module}:make_pipeline", folder


@pytest.fixture
def env(transactional_db, demo_registry, model_name, served_model, team_code) -> dict[str, str]:
    path, folder = team_code
    return subprocess_env(
        DATA_IS_DEMO="false",
        PYTHONPATH=str(folder),
        TRAINING_PIPELINE=path,
        TRAINING_PARAMS=PARAMS,
        RETRAIN_API_TOKEN=TOKEN,
        DJANGO_SUPERUSER_PASSWORD="team-pipeline-e2e",
    )


@pytest.fixture
def web(env, tmp_path: Path) -> Iterator[str]:
    call_command("collectstatic", "--noinput", verbosity=0)
    with gunicorn(env, tmp_path / "web.log") as base:
        yield base


def run_over_api(base: str, run_id: int) -> dict:
    answer = requests.get(f"{base}/api/v1/runs/{run_id}", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_a_teams_pipeline_bootstraps_retrains_serves_and_reproduces(env, team_code, web, tmp_path) -> None:
    path, folder = team_code
    code_version = f"sha256:{hashlib.sha256((folder / (path.split(':')[0] + '.py')).read_bytes()).hexdigest()}"
    assert "System check identified no issues" in manage(env, "check")
    manage(env, "bootstrap")
    first = RetrainingRun.objects.get()
    assert first.status == "deployed", (first.error, first.reasons)
    assert first.pipeline == {"path": path, "version": code_version}
    assert "reproduced: identical outputs" in manage(env, "reproduce", first.model_version)

    app.control.purge()
    worker = PoolWorker(tmp_path, {"max_iter": 40}, PYTHONPATH=str(folder), TRAINING_PIPELINE=path)
    try:
        body = retrain_and_serve(web, env, tmp_path, first.model_version)
    finally:
        worker.stop()
        print(f"--- worker\n{worker.log.read_text()[-2500:]}")
    assert body["pipeline"] == {"path": path, "version": code_version}
    assert "reproduced: identical outputs" in manage(env, "reproduce", body["model_version"])


def retrain_and_serve(base: str, env: dict[str, str], tmp_path: Path, first: str) -> dict:
    """Batch 2 published, a run started over the API and run by the worker, the champion served."""
    wait_for(lambda: serves(base, first), 60, f"v{first} served")
    batch = tmp_path / "batch2.csv"
    demo_frame(2, "penguins").to_csv(batch, index=False)
    manage(env, "publish_data", str(batch), "-m", "Batch 2")

    started = requests.post(f"{base}/api/v1/runs", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
    assert started.status_code == 201, started.text
    run_id = started.json()["id"]
    body = wait_for(lambda: (r := run_over_api(base, run_id))["finished_at"] and r, 600, f"run #{run_id} to finish")
    assert body["status"] in ("deployed", "kept"), (body["status"], body["error"], body["reasons"])
    champion = body["model_version"] if body["status"] == "deployed" else first
    wait_for(lambda: serves(base, champion), 60, f"v{champion} served")

    rows = demo_frame(2, "penguins").drop(columns=["species"]).head(3)
    instances = [{k: (None if v != v else v) for k, v in row.items()} for row in rows.to_dict("records")]
    answer = requests.post(f"{base}/api/v1/predict", json={"instances": instances}, timeout=30)
    assert answer.status_code == 200, answer.text
    assert answer.headers["X-Model-Version"] == champion
    assert len(answer.json()["predictions"]) == 3
    return body
