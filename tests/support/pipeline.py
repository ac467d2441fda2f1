"""Publishing data versions and running the pipeline in-process, for the pipeline's tests."""

import tempfile
from pathlib import Path

import pandas as pd
from django.conf import settings

from demo import batches
from retraining import data
from retraining.data import vcs
from retraining.models import RetrainingRun
from retraining.pipeline import flow
from retraining.runs import store

WEAK_PARAMS = {"n_estimators": 1, "max_depth": 1}
GOOD_PARAMS = {"n_estimators": 30}


def publish_frame(frame: pd.DataFrame, message: str = "Publish a test version") -> data.DatasetVersion:
    with tempfile.TemporaryDirectory() as tmp:
        csv_file = Path(tmp) / "data.csv"
        frame.to_csv(csv_file, index=False)
        return data.publish(settings.DATA_REGISTRY, settings.DATA_PATH, csv_file, message)


def publish_csv_by_hand(text: str, message: str = "Publish a hand-made version") -> None:
    """Publish raw CSV text the way a data engineer would without our checks: dvc add, dvc push,
    git commit. For what `data.publish` refuses (a DataFrame cannot even hold a duplicate header)."""
    repo = Path(settings.DATA_REGISTRY)
    (repo / settings.DATA_PATH).write_text(text)
    dvc_file = f"{settings.DATA_PATH}.dvc"
    vcs.dvc(["add", "--quiet", settings.DATA_PATH], repo, error="dvc add failed")
    vcs.dvc(["push", "--quiet", dvc_file], repo, error="dvc push failed")
    vcs.git(["add", "--", dvc_file], repo, error="git add failed")
    vcs.git([*vcs.identity_args(repo), "commit", "--quiet", "-m", message], repo, error="git commit failed")


def publish_batch(batch: int) -> data.DatasetVersion:
    return publish_frame(batches.demo_frame(batch), f"Publish demo batch {batch}")


def run_pipeline(trigger: str = RetrainingRun.Trigger.CLI, **options) -> RetrainingRun:
    run, created = store.start_run(trigger)
    assert created, f"run #{run.pk} was still {run.status}"
    return flow.execute(run.pk, **options)
