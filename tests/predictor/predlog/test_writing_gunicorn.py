"""A real gunicorn worker told to stop writes the predictions still queued for the log first, and
applies the labels another process held for the rows it writes."""

import contextlib
import json
import time

import pytest
import requests
from django.db import connection

from predictor import services
from predictor.models import Deployment, HeldLabel, LabelChange, Prediction
from tests.support import gunicorn_server
from tests.support.predlog import database_locked

pytestmark = pytest.mark.slow


def test_a_stopping_worker_writes_what_is_still_queued(transactional_db, settings, penguin_versions, rows, tmp_path):
    settings.MODEL_NAME = penguin_versions.name
    services.deploy(penguin_versions.first.version, source=Deployment.Source.BOOTSTRAP, reason="test")
    server = gunicorn_server.start(tmp_path, workers=1, MODEL_NAME=penguin_versions.name, PREDICTION_LOG_SAMPLE="1")
    try:
        deadline = time.monotonic() + 90
        while requests.get(f"{server.url}/readyz", timeout=10).status_code != 200:
            assert time.monotonic() < deadline, server.log.read_text()[-3000:]
            time.sleep(0.5)
        ids: list[str] = []
        with database_locked():
            # Nothing can be written: every row waits in the worker's queue when it is told to stop.
            # No connection kept alive: the worker would wait for it (up to graceful_timeout)
            # before its exit hook runs.
            for _ in range(20):
                answer = requests.post(
                    f"{server.url}/api/v1/predict",
                    json={"instances": rows},
                    headers={"Connection": "close"},
                    timeout=30,
                )
                assert answer.status_code == 200, answer.text
                ids += answer.json()["prediction_ids"]
            server.process.terminate()
            deadline = time.monotonic() + 30
            while "Worker exiting" not in server.log.read_text():
                assert time.monotonic() < deadline, server.log.read_text()[-3000:]
                time.sleep(0.05)
            time.sleep(1)
            # The worker's exit hook waits for the queue to be written (and the master for it).
            assert server.process.poll() is None, "the worker left without writing its queue"
        server.process.wait(timeout=30)
    finally:
        server.stop()
        logged = Prediction.objects.filter(id__in=ids).count()
        gunicorn_server.clean_database()
    assert logged == len(ids) == 60


def test_a_label_held_by_one_process_is_applied_by_the_worker_that_writes_the_row(
    transactional_db, settings, penguin_versions, rows, tmp_path, client
):
    """Feedback taken by this process for a row a gunicorn worker has not written yet: held in the
    database, and applied by that worker's writer when it writes the row."""
    settings.MODEL_NAME = penguin_versions.name
    settings.PREDICTION_LOG_SAMPLE = 1.0
    services.deploy(penguin_versions.first.version, source=Deployment.Source.BOOTSTRAP, reason="test")
    server = gunicorn_server.start(tmp_path, workers=1, MODEL_NAME=penguin_versions.name, PREDICTION_LOG_SAMPLE="1")
    # On PostgreSQL the lock holds back the worker's INSERT only, so the label is surely early;
    # SQLite's lock is the whole file's, and feedback would wait for it too.
    early = database_locked() if connection.vendor == "postgresql" else contextlib.nullcontext()
    try:
        deadline = time.monotonic() + 90
        while requests.get(f"{server.url}/readyz", timeout=10).status_code != 200:
            assert time.monotonic() < deadline, server.log.read_text()[-3000:]
            time.sleep(0.5)
        with early:
            answer = requests.post(f"{server.url}/api/v1/predict", json={"instances": rows[:1]}, timeout=30)
            (pid,) = answer.json()["prediction_ids"]
            sent = client.post(
                "/api/v1/feedback",
                json.dumps({"prediction_id": pid, "label": "Gentoo"}),
                content_type="application/json",
            )
        assert sent.status_code in ((202,) if connection.vendor == "postgresql" else (200, 202)), sent.content
        deadline = time.monotonic() + 30
        while Prediction.objects.filter(id=pid, label="Gentoo").count() == 0:
            assert time.monotonic() < deadline, server.log.read_text()[-3000:]
            time.sleep(0.2)
        assert HeldLabel.objects.count() == 0
        assert LabelChange.objects.get(prediction_id=pid).label == "Gentoo"
    finally:
        server.stop()
        gunicorn_server.clean_database()
