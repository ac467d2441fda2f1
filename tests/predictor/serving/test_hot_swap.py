"""Real gunicorn, two workers, under load while the served model changes."""

import time

import pytest
import requests
from mlflow import MlflowClient

from predictor import services
from predictor.models import Deployment
from tests.support import gunicorn_server
from tests.support.faulty import FAULTY, fail_on_small_batches
from tests.support.serving import FIRST_BOUND, SWITCH_BOUND, deploy, log_faulty_version, wait_all_workers_on

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(penguin_versions, tmp_path_factory, django_db_setup, django_db_blocker):
    started = gunicorn_server.start(
        tmp_path_factory.mktemp("gunicorn"),
        MODEL_NAME=penguin_versions.name,
        # The faulty version's step is a function of the tests': trusted like a team's own code.
        MODEL_TRUSTED_TYPES=FAULTY,
    )
    yield started
    started.stop()
    with django_db_blocker.unblock():
        gunicorn_server.clean_database()


@pytest.fixture
def live(transactional_db, settings, penguin_versions, server):
    settings.MODEL_NAME = penguin_versions.name
    return server


def test_workers_switch_back_and_forth_under_load_without_a_failed_request(live, penguin_versions, rows):
    first, second = penguin_versions.first.version, penguin_versions.second.version
    windows = [[time.monotonic(), None, first]]
    deploy(first, Deployment.Source.BOOTSTRAP)
    wait_all_workers_on(live, first, FIRST_BOUND)
    with gunicorn_server.LoadLoop(live.url, {"instances": rows[:1]}) as load:
        time.sleep(1)
        for version in [second, first, second, first]:
            switch_started = time.monotonic()
            windows.append([switch_started, None, version])
            deploy(version)
            took = wait_all_workers_on(live, version)
            windows[-2][1] = time.monotonic()
            assert took < SWITCH_BOUND
            time.sleep(1)
    answers = load.answers
    assert len(answers) > 50
    failed = [a for a in answers if a.status != 200]
    assert failed == []
    for answer in answers:
        # Each version answered only while it was active: from its deployment until every worker left it.
        assert any(
            version == answer.version and start <= answer.finished and (end is None or answer.started <= end)
            for start, end, version in windows
        ), answer
    assert {a.version for a in answers} == {first, second}


def test_an_alias_moved_with_a_plain_mlflow_client_switches_the_api(live, penguin_versions, rows):
    first, second = penguin_versions.first.version, penguin_versions.second.version
    deploy(first)
    wait_all_workers_on(live, first, FIRST_BOUND)
    last = services.active_deployment().pk
    MlflowClient().set_registered_model_alias(penguin_versions.name, "champion", second)
    wait_all_workers_on(live, second, bound=60)
    recorded = Deployment.objects.filter(pk__gt=last)
    assert [(d.source, d.version) for d in recorded] == [("registry", second)]
    response = requests.post(f"{live.url}/api/v1/predict", json={"instances": rows}, timeout=10)
    assert (response.status_code, response.headers["X-Model-Version"]) == (200, second)


def test_a_version_failing_every_prediction_is_rolled_back_once(live, penguin_versions, rows):
    first = penguin_versions.first.version
    deploy(first)
    wait_all_workers_on(live, first, FIRST_BOUND)
    faulty = log_faulty_version(penguin_versions.frame, fail_on_small_batches)
    failing = deploy(faulty)
    wait_all_workers_on(live, faulty)
    statuses = []
    deadline = time.monotonic() + 60
    session = requests.Session()
    while time.monotonic() < deadline:
        response = session.post(f"{live.url}/api/v1/predict", json={"instances": rows[:1]}, timeout=10)
        statuses.append((response.status_code, response.headers["X-Model-Version"]))
        if statuses[-1] == (200, first):
            break
    assert (503, faulty) in statuses
    assert statuses[-1] == (200, first)
    rollbacks = Deployment.objects.filter(source=Deployment.Source.AUTO_ROLLBACK)
    time.sleep(2)
    assert [(d.version, d.previous_id) for d in rollbacks] == [(first, failing.pk)]
    assert "prediction requests failed" in rollbacks[0].reason
