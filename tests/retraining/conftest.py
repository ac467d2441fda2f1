"""Fixtures for the pipeline's tests: publishing data versions and running the pipeline in-process."""

import tempfile
from pathlib import Path

import pandas as pd
import pytest
from django.conf import settings

from predictor.serving import holder
from retraining import data, demo, pipeline, runs
from retraining.models import RetrainingRun

WEAK_PARAMS = {"n_estimators": 1, "max_depth": 1}
GOOD_PARAMS = {"n_estimators": 30}


def publish_frame(frame: pd.DataFrame, message: str = "Publish a test version") -> data.DatasetVersion:
    with tempfile.TemporaryDirectory() as tmp:
        csv_file = Path(tmp) / "data.csv"
        frame.to_csv(csv_file, index=False)
        return data.publish(settings.DATA_REGISTRY, settings.DATA_PATH, csv_file, message)


def publish_batch(batch: int) -> data.DatasetVersion:
    return publish_frame(demo.demo_frame(batch), f"Publish demo batch {batch}")


def run_pipeline(trigger: str = RetrainingRun.Trigger.CLI, **options) -> RetrainingRun:
    run, created = runs.start_run(trigger)
    assert created, f"run #{run.pk} was still {run.status}"
    return pipeline.execute(run.pk, **options)


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
