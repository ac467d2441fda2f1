"""Champions trained by the pipeline itself, for the pipeline's tests (helpers: tests/support/pipeline.py)."""

import pytest

from predictor.serving import holder
from retraining.models import RetrainingRun
from tests.support.pipeline import GOOD_PARAMS, WEAK_PARAMS, run_pipeline


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
