"""Shared fixtures: the people involved, an isolated registered model, a real data registry.

Tests run with VAR_DIR pointing at a throwaway folder (`make test` sets it), so the MLflow
store, broker folders and databases they create never touch the ones `make run` uses.
"""

import contextlib
import os
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model

from predictor.predlog import writing
from predictor.serving import holder


@pytest.fixture(scope="session", autouse=True)
def no_process_left_behind() -> Iterator[None]:
    """Every process a test starts (servers, Celery workers and their pool, browsers) is gone
    when the session ends. Each inherits a mark in its environment, so one that was orphaned
    (its parent killed first) is found too; any still alive after a grace period is named in
    the failure and killed."""
    mark = f"{os.getpid()}-{uuid.uuid4().hex}"
    os.environ["TEST_SESSION_MARK"] = mark
    yield
    deadline = time.monotonic() + 20
    while (left := _marked_processes(mark)) and time.monotonic() < deadline:
        time.sleep(0.5)
    for pid in left:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    assert not left, f"processes started by tests were still running: {left}"


def _marked_processes(mark: str) -> dict[int, str]:
    found = {}
    needle = f"TEST_SESSION_MARK={mark}".encode()
    for proc in Path("/proc").glob("[0-9]*"):
        pid = int(proc.name)
        if pid == os.getpid():
            continue
        try:
            if needle in (proc / "environ").read_bytes().split(b"\0"):
                found[pid] = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")[:200]
        except OSError:
            continue
    return found


@pytest.fixture
def staff_user(db):
    return get_user_model().objects.create_user("alice", "alice@example.com", "pw-alice-123", is_staff=True)


@pytest.fixture
def plain_static_files(settings) -> None:
    """Pages link their files through the manifest storage, which only `collectstatic` fills."""
    plain = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
    settings.STORAGES = {**settings.STORAGES, "staticfiles": plain}


@pytest.fixture
def regular_user(db):
    return get_user_model().objects.create_user("bob", "bob@example.com", "pw-bob-123")


@pytest.fixture
def model_name(settings) -> str:
    """A registered model of the test's own, so tests never see each other's versions."""
    settings.MODEL_NAME = f"test-{uuid.uuid4().hex[:10]}"
    return settings.MODEL_NAME


@pytest.fixture
def demo_registry(tmp_path: Path, settings) -> Path:
    """A real git + DVC registry holding demo batch 1, with a local-directory remote."""
    from demo import batches

    repo = tmp_path / "registry"
    settings.DATA_REGISTRY = str(repo)
    settings.DATA_IS_DEMO = True
    settings.DATA_REMOTE = str(tmp_path / "remote")
    settings.DATA_CACHE_DIR = tmp_path / "cache"
    settings.DEMO_DATASET = "penguins"
    settings.DATA_PATH = "data/penguins.csv"
    settings.TARGET_COLUMN = "species"
    batches.ensure_demo_registry(repo, settings.DATA_REMOTE, settings.DATA_PATH)
    return repo


@pytest.fixture(autouse=True)
def prediction_log_off(monkeypatch, settings) -> Iterator[writing.Writer]:
    """The prediction log off and a fresh writer, unless a test asks for the log (`prediction_log`).

    A test that is not about the log must not leave rows (and a writer thread waiting on the
    test's own transaction) behind for the next test; servers started by tests log as shipped.
    """
    settings.PREDICTION_LOG_SAMPLE = 0.0
    writer = writing.Writer()
    monkeypatch.setattr(writing, "_writer", writer)
    yield writer
    writer.stop()


@pytest.fixture
def prediction_log(prediction_log_off, transactional_db, settings) -> writing.Writer:
    """The prediction log on, as shipped, with a writer of the test's own; its rows are committed
    by the writer's own connection, so the test's database is a real (transactional) one."""
    settings.PREDICTION_LOG_SAMPLE = 1.0
    return prediction_log_off


@pytest.fixture
def served_model(monkeypatch) -> None:
    """A fresh, empty model holder in place of the process-wide one for the test."""
    monkeypatch.setattr(holder, "_holder", holder.ModelHolder())


@pytest.fixture
def champion(transactional_db, demo_registry, model_name, served_model):
    """The first champion, trained on demo batch 1 by the pipeline itself, and served here."""
    from retraining.models import RetrainingRun
    from retraining.pipeline import flow
    from retraining.runs import store

    run, _ = store.start_run(RetrainingRun.Trigger.BOOTSTRAP)
    run = flow.execute(run.pk)
    assert run.status == RetrainingRun.Status.DEPLOYED, (run.error, run.reasons)
    holder.holder().sync()
    return run.deployment


@pytest.fixture
def two_deployments(transactional_db, demo_registry, model_name, served_model, settings):
    """A weak first champion (a one-tree stump, demo batch 1) replaced by a strong one (batch 2).

    Gives a rollback something real to go back to: two MLflow versions, two deployments.
    """
    from demo import batches
    from retraining.models import RetrainingRun
    from retraining.pipeline import flow
    from retraining.runs import store

    deployments = []
    for params, publish in (({"n_estimators": 1, "max_depth": 1}, False), ({"n_estimators": 100}, True)):
        if publish:
            batches.publish_next_demo_batch(demo_registry, settings.DATA_PATH)
        settings.TRAINING_PARAMS = params
        run, _ = store.start_run(RetrainingRun.Trigger.CLI)
        run = flow.execute(run.pk)
        assert run.status == RetrainingRun.Status.DEPLOYED, (run.error, run.reasons)
        deployments.append(run.deployment)
    holder.holder().sync()
    return deployments
