"""A real gunicorn worker writes the predictions still queued for the log when it is stopped."""

import pytest
import requests

from predictor.models import Deployment, Prediction
from tests.support import gunicorn_server
from tests.support.serving import FIRST_BOUND, deploy, wait_all_workers_on

pytestmark = pytest.mark.slow


def test_stopping_the_server_writes_what_is_still_queued(transactional_db, settings, penguin_versions, rows, tmp_path):
    settings.MODEL_NAME = penguin_versions.name
    server = gunicorn_server.start(tmp_path, MODEL_NAME=penguin_versions.name, PREDICTION_LOG_SAMPLE="1")
    try:
        deploy(penguin_versions.first.version, Deployment.Source.BOOTSTRAP)
        wait_all_workers_on(server, penguin_versions.first.version, FIRST_BOUND)
        session = requests.Session()
        ids = []
        for _ in range(30):
            response = session.post(f"{server.url}/api/v1/predict", json={"instances": rows[:1]}, timeout=30)
            assert response.status_code == 200
            ids += response.json()["prediction_ids"]
    finally:
        server.stop()
    assert Prediction.objects.filter(id__in=ids).count() == 30
    gunicorn_server.clean_database()
