"""Champions trained by the pipeline itself, for the pipeline's tests (helpers: tests/support/pipeline.py)."""

from collections.abc import Callable, Iterator

import pytest

from config.celery import app
from predictor.serving.holder import holder
from retraining.models import RetrainingRun
from tests.support.pipeline import GOOD_PARAMS, WEAK_PARAMS, run_pipeline
from tests.support.workers import PoolWorker


@pytest.fixture
def weak_champion(transactional_db, demo_registry, model_name, served_model, settings):
    """A champion crippled on purpose (one stump) on batch 1, so a normal challenger beats it."""
    settings.TRAINING_PARAMS = WEAK_PARAMS
    run = run_pipeline(RetrainingRun.Trigger.BOOTSTRAP)
    assert run.status == RetrainingRun.Status.DEPLOYED, (run.error, run.reasons)
    settings.TRAINING_PARAMS = GOOD_PARAMS
    holder().sync()
    return run.deployment


@pytest.fixture
def good_champion(transactional_db, demo_registry, model_name, served_model, settings):
    settings.TRAINING_PARAMS = GOOD_PARAMS
    run = run_pipeline(RetrainingRun.Trigger.BOOTSTRAP)
    assert run.status == RetrainingRun.Status.DEPLOYED, (run.error, run.reasons)
    holder().sync()
    return run.deployment


@pytest.fixture
def start_pool_worker(tmp_path) -> Iterator[Callable[..., PoolWorker]]:
    app.control.purge()
    started: list[PoolWorker] = []

    def start(params: dict, **env: str) -> PoolWorker:
        started.append(PoolWorker(tmp_path, params, **env))
        return started[-1]

    yield start
    for worker in started:
        worker.stop()
