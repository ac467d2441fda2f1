"""End to end through real processes: shifted traffic to gunicorn causes a `drift` run.

gunicorn serves the champion the pipeline trained and logs every prediction; Celery beat sends
the watch task every few seconds; a Celery worker checks the log against the champion's training
profile, starts the drift run, and runs it. With no new data published, the run must say so and
notify rather than train anything. Runs on whichever column the suite runs on (SQLite and the
filesystem broker, or PostgreSQL and Redis): every process shares the test database and broker.
"""

import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from django.core.management import call_command
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from predictor.models import DriftCheck, Prediction, ServingProcess
from retraining.models import RetrainingRun
from retraining.workers import schedule
from tests.support.browser import start, stop
from tests.support.monitoring import PENGUIN_FEATURES, penguin_inputs
from tests.support.processes import free_port, subprocess_env, wait_healthy

pytestmark = pytest.mark.slow
BIN = Path(sys.executable).parent
WATCH_EVERY = 3


@pytest.fixture
def stack(champion, tmp_path) -> Iterator[str]:
    """web, worker and beat on the test database, beat watching every few seconds; the web's URL."""
    from config.celery import app as celery_app

    call_command("collectstatic", "--noinput", verbosity=0)
    celery_app.control.purge()
    ServingProcess.objects.all().delete()
    every, _ = IntervalSchedule.objects.get_or_create(every=WATCH_EVERY, period=IntervalSchedule.SECONDS)
    task = PeriodicTask.objects.get(name=schedule.WATCH_TASK_NAME)
    task.interval = every
    task.save()
    port = free_port()
    env = subprocess_env(PORT=str(port), WEB_CONCURRENCY="1", MODEL_POLL_INTERVAL="0.5")
    env.pop("TRAINING_PARAMS", None)
    celery = [str(BIN / "celery"), "-A", "config"]
    worker = [*celery, "worker", "--concurrency=1", "--pool=solo", "--without-gossip", "--without-mingle"]
    processes = [
        start([str(BIN / "gunicorn"), "config.wsgi", "--config", "config/gunicorn.py"], tmp_path / "web.log", env),
        start(worker, tmp_path / "worker.log", env),
        start([*celery, "beat", "--loglevel=INFO"], tmp_path / "beat.log", env),
    ]
    base = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(base, processes[0], tmp_path / "web.log", 120)
        yield base
    finally:
        for process in processes:
            stop(process)
        for name in ("web", "worker", "beat"):
            print(f"--- {name}\n{(tmp_path / f'{name}.log').read_text()[-2500:]}")


def send(base: str, rows: int, shift: float) -> None:
    frame = penguin_inputs(rows, seed=3, shift=shift)[PENGUIN_FEATURES]
    for start_row in range(0, rows, 50):
        chunk = frame.iloc[start_row : start_row + 50]
        instances = [{k: (None if v != v else v) for k, v in row.items()} for row in chunk.to_dict("records")]
        answer = requests.post(f"{base}/api/v1/predict", json={"instances": instances}, timeout=30)
        assert answer.status_code == 200, answer.text


def wait_for(condition, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.5)
    pytest.fail(f"{what} within {seconds}s")


def test_shifted_traffic_causes_a_drift_run_that_asks_for_data(stack, champion):
    send(stack, 300, shift=0.0)
    checked = wait_for(lambda: DriftCheck.objects.filter(rows__gte=300).first(), 60, "beat checked the logged inputs")
    assert checked.verdict == "no drift"
    assert not RetrainingRun.objects.filter(trigger="drift").exists()

    send(stack, 600, shift=2.5)
    wait_for(lambda: Prediction.objects.count() >= 900, 30, "the web logged every prediction")
    run = wait_for(
        lambda: RetrainingRun.objects.filter(trigger="drift", active__isnull=True).first(),
        120,
        "a drift run started by beat finished",
    )

    assert run.status == "skipped"
    assert run.evidence["drift"]["drifted"]["body_mass_g"]["psi"] >= 0.2
    assert run.evidence["champion_version"] == champion.version
    (reason,) = run.reasons
    assert reason.startswith("inputs drifted on body_mass_g")
    assert reason.endswith(f"no new labelled data since v{champion.version}: publish data")
    assert [step["name"] for step in run.steps] == ["check", "notify"]
    assert RetrainingRun.objects.filter(trigger__in=["drift", "degradation"]).count() == 1
