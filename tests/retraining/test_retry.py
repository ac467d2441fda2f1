"""Transient faults (the DVC remote or MLflow unreachable): the run waits in the queue and is retried, once."""

import shutil
import socket
from pathlib import Path

import pytest
from django.conf import settings

from predictor.models import Deployment
from retraining import pipeline, runs, tasks
from retraining.models import RetrainingRun
from tests.support.pipeline import publish_batch

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
    run, _ = runs.start_run(RetrainingRun.Trigger.SCHEDULE)

    waiting = pipeline.execute(run.pk, retry=True)

    assert waiting.status == Status.QUEUED
    assert "DVC remote" in waiting.error
    assert runs.active_run() == waiting
    assert Deployment.objects.first() == weak_champion
    remote_down()

    done = pipeline.execute(run.pk, retry=True)

    assert done.status == Status.DEPLOYED, (done.error, done.reasons)
    pulls = [step["status"] for step in done.steps if step["name"] == "pull"]
    assert pulls == ["failed", "done"]
    assert pipeline.execute(run.pk, retry=True).steps == done.steps


def test_a_task_that_keeps_hitting_the_fault_fails_after_its_last_retry(weak_champion, remote_down):
    run, _ = runs.start_run(RetrainingRun.Trigger.API)

    tasks.retrain.apply(args=[run.pk])

    run.refresh_from_db()
    assert run.status == Status.FAILED
    assert "DVC remote" in run.error
    assert [step["name"] for step in run.steps].count("pull") == tasks.MAX_RETRIES + 1
    assert Deployment.objects.first() == weak_champion
    assert runs.active_run() is None


def test_an_unreachable_mlflow_server_requeues_the_run(weak_champion, settings, monkeypatch):
    publish_batch(2)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "5")
    settings.MLFLOW_TRACKING_URI = settings.MLFLOW_REGISTRY_URI = f"http://127.0.0.1:{port}"
    run, _ = runs.start_run(RetrainingRun.Trigger.SCHEDULE)

    waiting = pipeline.execute(run.pk, retry=True)

    assert waiting.status == Status.QUEUED, waiting.error
    assert "retrying after a transient fault" in waiting.error
    assert Deployment.objects.first() == weak_champion
