"""Transient faults (the DVC remote or MLflow unreachable): the run says what it waits for, waits
in the queue and is tried again, within a bounded total wait."""

import shutil
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from django.conf import settings

from predictor.models import Deployment
from retraining import tasks
from retraining.models import RetrainingRun
from retraining.pipeline import flow
from retraining.runs import retries, store
from tests.support.pipeline import publish_batch
from tests.support.processes import PENGUIN, free_port

pytestmark = pytest.mark.slow
Status = RetrainingRun.Status


@pytest.fixture
def remote_down(demo_registry):
    """The new version exists only on the DVC remote, and the remote is gone."""
    publish_batch(2)
    hidden = []
    for folder in (Path(settings.DATA_REMOTE), demo_registry / ".dvc" / "cache"):
        aside = folder.with_name(folder.name + ".away")
        folder.rename(aside)
        hidden.append((aside, folder))
    shutil.rmtree(settings.DATA_CACHE_DIR, ignore_errors=True)

    def restore() -> None:
        for aside, folder in hidden:
            if aside.exists():
                aside.rename(folder)

    yield restore
    restore()


def test_an_unreachable_remote_requeues_the_run_and_the_retry_deploys(weak_champion, remote_down):
    run, _ = store.start_run(RetrainingRun.Trigger.SCHEDULE)

    waiting = flow.execute(run.pk, attempt=retries.attempt(1))

    assert waiting.status == Status.QUEUED
    assert waiting.waiting.startswith("the data registry or its DVC remote unreachable")
    assert store.active_run() == waiting
    assert Deployment.objects.first() == weak_champion
    remote_down()

    done = flow.execute(run.pk, attempt=retries.attempt(2))

    assert done.status == Status.DEPLOYED, (done.error, done.reasons)
    pulls = [step["status"] for step in done.steps if step["name"] == "pull"]
    assert pulls == ["waiting", "done"]
    assert flow.execute(run.pk, attempt=retries.attempt(2)).steps == done.steps


def test_a_task_that_keeps_hitting_the_fault_fails_after_its_last_retry(weak_champion, remote_down):
    run, _ = store.start_run(RetrainingRun.Trigger.API)

    tasks.retrain.apply(args=[run.pk])

    run.refresh_from_db()
    assert run.status == Status.FAILED
    assert "DVC remote" in run.error
    assert "gave up after 5 attempts (RUN_RETRY_MAX_WAIT=900 s)" in run.error
    assert [step["name"] for step in run.steps].count("pull") == 5
    assert [attempt["outcome"] for attempt in run.attempts] == ["transient fault"] * 4 + ["failed"]
    assert Deployment.objects.first() == weak_champion
    assert store.active_run() is None


@pytest.fixture
def mlflow_down(settings) -> Callable[[], None]:
    """MLflow sought where nothing listens, as when its server is down; calling it brings it back."""
    store = (settings.MLFLOW_TRACKING_URI, settings.MLFLOW_REGISTRY_URI)
    settings.MLFLOW_TRACKING_URI = settings.MLFLOW_REGISTRY_URI = f"http://127.0.0.1:{free_port()}"

    def back() -> None:
        settings.MLFLOW_TRACKING_URI, settings.MLFLOW_REGISTRY_URI = store

    return back


def test_a_run_says_within_seconds_that_mlflow_is_unreachable_and_when_it_tries_again(
    weak_champion, settings, mlflow_down, client
):
    publish_batch(2)
    down = settings.MLFLOW_TRACKING_URI
    run, _ = store.start_run(RetrainingRun.Trigger.SCHEDULE)

    started = time.monotonic()
    waiting = flow.execute(run.pk, attempt=retries.attempt(1))
    said_after = time.monotonic() - started

    assert said_after < 30, said_after
    assert waiting.status == Status.QUEUED
    assert waiting.waiting.startswith(f"MLflow unreachable at {down}, attempt 2 of 5, next in 30 s (at ")
    assert waiting.steps[-1]["status"] == "waiting"
    assert waiting.steps[-1]["detail"] == waiting.waiting
    assert waiting.error == ""
    assert client.post("/api/v1/predict", {"instances": [PENGUIN]}, content_type="application/json").status_code == 200
    assert Deployment.objects.first() == weak_champion
    print(f"run #{run.pk} said MLflow was unreachable after {said_after:.1f} s: {waiting.waiting}")

    mlflow_down()
    done = flow.execute(run.pk, attempt=retries.attempt(2))

    assert done.status == Status.DEPLOYED, (done.error, done.reasons)
    assert (done.error, done.waiting) == ("", "")
    assert done.started_at == waiting.started_at
    assert [(a["attempt"], a["outcome"]) for a in done.attempts] == [(1, "transient fault"), (2, "deployed")]
    assert "Max retries exceeded" in done.attempts[0]["error"]


def test_a_run_that_keeps_waiting_for_mlflow_fails_once_the_wait_runs_out(weak_champion, settings, mlflow_down):
    publish_batch(2)
    settings.RUN_RETRY_FIRST_DELAY, settings.RUN_RETRY_MAX_WAIT = 1, 3
    run, _ = store.start_run(RetrainingRun.Trigger.API)

    tasks.retrain.apply(args=[run.pk])

    run.refresh_from_db()
    assert run.status == Status.FAILED
    assert run.error.startswith(
        f"MLflow unreachable at {settings.MLFLOW_TRACKING_URI}: "
        "gave up after 3 attempts (RUN_RETRY_MAX_WAIT=3 s); last error: "
    )
    assert run.waiting == ""
    assert [a["outcome"] for a in run.attempts] == ["transient fault", "transient fault", "failed"]
    assert Deployment.objects.first() == weak_champion
    assert store.active_run() is None
