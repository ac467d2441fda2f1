"""A version with broken artifacts under real gunicorn, with automatic rollback switched off
(ROLLBACK_BAKE_WINDOW=0) so that the refusal itself can be seen. Its own module: the server of
test_hot_swap.py, which rolls back, must be stopped before this one runs."""

import time

import pytest
import requests

from predictor.models import ServingProcess
from tests.support import gunicorn_server
from tests.support.serving import FIRST_BOUND, SWITCH_BOUND, deploy, register_broken_version, wait_all_workers_on

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server_without_rollback(penguin_versions, tmp_path_factory, django_db_setup, django_db_blocker):
    started = gunicorn_server.start(
        tmp_path_factory.mktemp("gunicorn-no-rollback"),
        MODEL_NAME=penguin_versions.name,
        ROLLBACK_BAKE_WINDOW="0",
    )
    yield started
    started.stop()
    with django_db_blocker.unblock():
        gunicorn_server.clean_database()


def test_a_version_with_broken_artifacts_is_refused_and_the_old_one_answers(
    transactional_db, settings, penguin_versions, server_without_rollback, rows, tmp_path
):
    settings.MODEL_NAME = penguin_versions.name
    server = server_without_rollback
    first = penguin_versions.first.version
    deploy(first)
    wait_all_workers_on(server, first, FIRST_BOUND)
    broken = register_broken_version(tmp_path)
    with gunicorn_server.LoadLoop(server.url, {"instances": rows[:1]}, clients=2) as load:
        deploy(broken)
        deadline = time.monotonic() + SWITCH_BOUND
        names = server.worker_names()
        while time.monotonic() < deadline:
            failed = ServingProcess.objects.filter(name__in=names, failed_version=broken).count()
            if failed == len(names):
                break
            time.sleep(0.1)
        assert failed == len(names) == 2
        time.sleep(1)
    assert {(a.status, a.version) for a in load.answers} == {(200, first)}
    for _ in range(4):
        response = requests.get(f"{server.url}/readyz", timeout=5, headers={"Connection": "close"})
        assert response.status_code == 503
        body = response.json()
        assert (body["status"], body["version"]) == ("failing", first)
        assert body["error"].startswith(f"version {broken} was not swapped in: could not load")
