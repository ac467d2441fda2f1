"""A real gunicorn worker told to stop writes the predictions still queued for the log first."""

import time

import pytest
import requests

from predictor import services
from predictor.models import Deployment, Prediction
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
