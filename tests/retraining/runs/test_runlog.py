"""A run's own log: the worker's lines for that run, kept with it, redacted, the tail within a cap."""

import logging
import time

import pytest

from demo.batches import demo_frame
from predictor.models import Deployment
from retraining.models import RetrainingRun, RunLog
from retraining.pipeline import flow
from retraining.runs import store
from retraining.runs.recorder import Recorder
from retraining.runs.runlog import RunLogHandler
from tests.support.in_memory import MemoryDeployments, MemorySource, memory_resources

SECRET_URL = "postgres://team:hunter2-secret@db.example.com/warehouse"


@pytest.fixture
def penguins(settings):
    settings.DEMO_DATASET = "penguins"
    settings.TARGET_COLUMN = "species"
    settings.TRAINING_ESTIMATOR = "random_forest"
    settings.TRAINING_PARAMS = {"n_estimators": 5, "max_depth": 3}


def queued() -> RetrainingRun:
    run, created = store.start_run(RetrainingRun.Trigger.CLI)
    assert created
    return run


class RecordedDeployments(MemoryDeployments):
    """In memory, but with the row the run's record points at."""

    def deploy(self, version: str, **record) -> int:
        deployment_id = super().deploy(version, **record)
        Deployment.objects.create(id=deployment_id, model_name="m", version=version, source=record["source"])
        return deployment_id


def with_parts(**parts):
    resources = memory_resources(demo_frame(1))
    return resources.__class__(**{**resources.__dict__, **parts})


def test_a_run_keeps_its_step_lines_and_what_its_code_logged(db, penguins):
    run = flow.execute(queued().pk, resources=with_parts(deployments=RecordedDeployments()))

    assert run.status == "deployed", run.reasons
    text = RunLog.objects.get(run=run).text
    for step in ("check", "pull", "validate", "train", "compare", "deploy", "notify"):
        assert f"] {step}" in text, text
    assert f"run #{run.pk} finished: deployed" in text


class FailingSource(MemorySource):
    def pull(self, version):
        logging.getLogger("retraining.data").warning("pulling from %s", SECRET_URL)
        raise RuntimeError(f"could not read {SECRET_URL}")


def test_a_failed_run_keeps_its_error_and_masks_credentials(db, penguins):
    run = flow.execute(queued().pk, resources=with_parts(source=FailingSource(demo_frame(1))))

    assert run.status == "failed"
    text = RunLog.objects.get(run=run).text
    assert "pulling from postgres://" in text, text
    assert f"run #{run.pk} failed" in text
    assert "RuntimeError: could not read" in text
    assert "hunter2-secret" not in text


def test_a_retried_run_appends_to_the_log_of_its_earlier_attempt(db):
    run = queued()
    RunLog.objects.create(run=run, text="attempt 1 line\n", dropped_bytes=7)

    handler = RunLogHandler.for_run(run.pk)
    handler.handle(logging.makeLogRecord({"name": "x", "levelno": logging.INFO, "msg": "attempt 2 line"}))
    handler.save()

    log = RunLog.objects.get(run=run)
    assert log.text.startswith("attempt 1 line\n")
    assert log.text.rstrip().endswith("attempt 2 line")
    assert log.dropped_bytes == 7


def test_the_tail_is_kept_under_the_cap_and_the_cut_is_counted(db):
    run = queued()
    handler = RunLogHandler(run.pk, max_bytes=1024)
    for number in range(200):
        handler.handle(logging.makeLogRecord({"name": "x", "levelno": logging.INFO, "msg": f"line {number:04d}"}))
    handler.save()

    log = RunLog.objects.get(run=run)
    assert len(log.text.encode()) <= 1024
    assert "line 0199" in log.text
    assert "line 0000" not in log.text
    every = [handler.format(logging.makeLogRecord({"name": "x", "msg": f"line {n:04d}"})) for n in range(200)]
    assert log.dropped_bytes + len(log.text.encode()) == sum(len(line.encode()) + 1 for line in every)


def test_one_line_larger_than_the_cap_keeps_its_end(db):
    run = queued()
    handler = RunLogHandler(run.pk, max_bytes=1024)
    handler.handle(logging.makeLogRecord({"name": "x", "levelno": logging.INFO, "msg": "a" * 5000 + "THE END"}))

    text, dropped = handler.text()
    assert len(text.encode()) <= 1024
    assert text.rstrip().endswith("THE END")
    assert dropped > 4000


def test_nothing_is_written_when_nothing_was_logged_since_the_last_save(db, django_assert_num_queries):
    run = queued()
    handler = RunLogHandler(run.pk)
    handler.handle(logging.makeLogRecord({"name": "x", "levelno": logging.INFO, "msg": "once"}))
    handler.save()

    with django_assert_num_queries(0):
        handler.save()


def test_the_log_is_saved_on_each_heartbeat_while_the_run_works(transactional_db, settings):
    settings.RUN_HEARTBEAT_INTERVAL = 0.05
    run = queued()
    recorder = Recorder.claim(run.pk)
    with recorder.keeping_log(), recorder.working():
        logging.getLogger("retraining.pipeline").warning("halfway through the fit")
        deadline = time.monotonic() + 5
        while not RunLog.objects.filter(run=run, text__contains="halfway").exists():
            assert time.monotonic() < deadline, "no heartbeat saved the log"
            time.sleep(0.05)


def test_the_api_and_the_panel_show_a_run_log(client, staff_user, settings):
    settings.RETRAIN_API_TOKEN = "log-token"
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    run = queued()
    RunLog.objects.create(run=run, text="10:00 INFO x: <b>trained</b>\n", dropped_bytes=2048)

    answer = client.get(f"/api/v1/runs/{run.pk}/log", HTTP_AUTHORIZATION="Bearer log-token").json()
    assert (answer["run"], answer["text"], answer["dropped_bytes"]) == (run.pk, "10:00 INFO x: <b>trained</b>\n", 2048)
    assert client.get(f"/api/v1/runs/{run.pk}/log").status_code == 401
    assert client.get("/api/v1/runs/999999/log", HTTP_AUTHORIZATION="Bearer log-token").status_code == 404

    client.force_login(staff_user)
    page = client.get(f"/panel/runs/{run.pk}/log/").content.decode()
    assert "&lt;b&gt;trained&lt;/b&gt;" in page
    assert "<b>trained</b>" not in page
    assert "The first 2.0\xa0KB were cut" in page
    assert f'href="/panel/runs/{run.pk}/log/"' in client.get(f"/panel/runs/{run.pk}/").content.decode()


def test_a_run_that_logged_nothing_says_so(client, staff_user, settings):
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    client.force_login(staff_user)
    run = queued()

    assert (
        "Nothing logged yet: no worker has claimed the run" in client.get(f"/panel/runs/{run.pk}/log/").content.decode()
    )
