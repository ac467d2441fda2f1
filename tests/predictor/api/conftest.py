"""A live gunicorn serving version one of the penguins model, shared by the API's end-to-end tests
(schemathesis, real clients). One server per module; each test deploys version one again."""

import time

import pytest
import requests

from config.celery import app
from predictor import services
from predictor.models import Deployment
from tests.support import gunicorn_server

# The staff token the live server is started with (schemathesis reaches the runs API with it).
TOKEN = "conformance-token-123"


@pytest.fixture(scope="module")
def server(penguin_versions, tmp_path_factory, django_db_setup, django_db_blocker):
    started = gunicorn_server.start(
        tmp_path_factory.mktemp("gunicorn"), MODEL_NAME=penguin_versions.name, RETRAIN_API_TOKEN=TOKEN
    )
    yield started
    started.stop()
    app.control.purge()
    with django_db_blocker.unblock():
        gunicorn_server.clean_database()


@pytest.fixture
def live(transactional_db, settings, penguin_versions, server):
    settings.MODEL_NAME = penguin_versions.name
    services.deploy(penguin_versions.first.version, source=Deployment.Source.BOOTSTRAP, reason="test")
    deadline = time.monotonic() + 90
    while requests.get(f"{server.url}/readyz", timeout=10).status_code != 200:
        assert time.monotonic() < deadline, server.log.read_text()[-3000:]
        time.sleep(0.5)
    return server
