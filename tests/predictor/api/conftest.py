"""A live gunicorn serving version one of the penguins model, shared by the API's end-to-end tests
(schemathesis, real clients). One server per module; each test deploys version one again."""

import pytest

from config.celery import app
from predictor import services
from predictor.models import Deployment
from tests.support import gunicorn_server
from tests.support.serving import FIRST_BOUND, wait_all_workers_on

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
    # Every worker, not the first to answer /readyz: a test's next request may reach the other.
    wait_all_workers_on(server, penguin_versions.first.version, FIRST_BOUND)
    return server
