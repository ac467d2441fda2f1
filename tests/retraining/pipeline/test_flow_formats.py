"""The whole pipeline in-process on a team's layouts, against real git, DVC, MLflow and the database:
a folder of daily CSV files that grows by one file a day, and a registry holding a Parquet file.
Each bootstraps, sees the change from DVC metadata, retrains, deploys or keeps, and `reproduce`
confirms the model."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from demo import batches
from predictor.serving.holder import holder
from retraining import data
from retraining.models import RetrainingRun
from retraining.pipeline.reproduce import reproduce
from retraining.pipeline.resources import real_resources
from tests.support.pipeline import GOOD_PARAMS, run_pipeline
from tests.support.registries import add_days, build_folder_registry, git

pytestmark = pytest.mark.slow

Status = RetrainingRun.Status


@pytest.fixture
def team(transactional_db, model_name, served_model, settings, tmp_path: Path):
    settings.DATA_IS_DEMO = False
    settings.DATA_CACHE_DIR = tmp_path / "cache"
    settings.DEMO_DATASET = "penguins"
    settings.TARGET_COLUMN = "species"
    settings.TRAINING_PARAMS = GOOD_PARAMS
    return settings


def days(parts: int) -> list:
    frame = batches.demo_frame(3, "penguins").reset_index(drop=True)
    return [frame.iloc[rows] for rows in np.array_split(np.arange(len(frame)), parts)]


def reproduced(version: str) -> bool:
    resources = real_resources()
    return reproduce(version, resources.models, resources.source).identical


def test_a_folder_of_daily_csv_files_growing_a_file_a_day(team, tmp_path: Path) -> None:
    first, *later = days(4)
    repo = build_folder_registry(tmp_path, {"2026-12-01.csv": first})
    team.DATA_REGISTRY = str(repo)
    team.DATA_PATH = "data"

    boot = run_pipeline(RetrainingRun.Trigger.BOOTSTRAP)
    assert boot.status == Status.DEPLOYED, (boot.error, boot.reasons)
    assert boot.lineage["read_as"]["files"] == 1
    assert run_pipeline().status == Status.SKIPPED

    total = len(first)
    for number, day in enumerate(later, start=2):
        add_days(repo, {f"2026-12-0{number}.csv": day})
        total += len(day)
        run = run_pipeline()
        assert run.status in (Status.DEPLOYED, Status.KEPT), (run.error, run.reasons)
        assert run.rows["total"] == total
        assert run.lineage["read_as"]["files"] == number
        assert reproduced(run.model_version)


def dated(frame):
    """The rows with the day each was seen: a datetime column, read as its parts."""
    return frame.assign(seen_on=[f"2026-{1 + i % 12:02d}-{1 + i % 28:02d}" for i in range(len(frame))])


def test_a_registry_holding_a_parquet_file(team, tmp_path: Path, client) -> None:
    repo = tmp_path / "registry"
    data.init_registry(repo, str(tmp_path / "remote"))
    team.DATA_REGISTRY = str(repo)
    team.DATA_PATH = "data/penguins.parquet"

    def publish(batch: int) -> None:
        path = tmp_path / f"batch{batch}.parquet"
        dated(batches.demo_frame(batch, "penguins")).to_parquet(path, index=False)
        data.publish(repo, team.DATA_PATH, path, f"Batch {batch}")

    publish(1)
    boot = run_pipeline(RetrainingRun.Trigger.BOOTSTRAP)
    assert boot.status == Status.DEPLOYED, (boot.error, boot.reasons)
    assert boot.lineage["read_as"] == {"format": "Parquet"}
    assert boot.lineage["dates"] == {"seen_on": False}
    assert reproduced(boot.model_version)
    holder().sync()
    record = dated(batches.demo_frame(1, "penguins")).drop(columns=["species"]).head(2)
    whole = [{k: (None if pd.isna(v) else v) for k, v in row.items()} for row in record.to_dict("records")]
    answer = client.post("/api/v1/predict", {"instances": whole}, content_type="application/json")
    assert answer.status_code == 200, answer.json()
    assert client.get("/api/v1/model").json()["input_schema"]["dates"] == {
        "seen_on": ["seen_on_year", "seen_on_month", "seen_on_dayofweek"]
    }
    publish(2)
    run = run_pipeline()
    assert run.status in (Status.DEPLOYED, Status.KEPT), (run.error, run.reasons)
    assert reproduced(run.model_version)


def test_a_changed_schema_file_alone_is_judged_again(team, tmp_path: Path) -> None:
    repo = build_folder_registry(tmp_path, {"2026-12-01.csv": days(1)[0]})
    team.DATA_REGISTRY, team.DATA_PATH = str(repo), "data"
    assert run_pipeline(RetrainingRun.Trigger.BOOTSTRAP).status == Status.DEPLOYED
    assert run_pipeline().status == Status.SKIPPED

    (repo / "data.schema.yaml").write_text("columns:\n  island: categorical\n")
    git(repo, "add", "data.schema.yaml")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@localhost", "commit", "--quiet", "-m", "island declared")
    run = run_pipeline()

    assert run.status in (Status.DEPLOYED, Status.KEPT), (run.status, run.reasons)
    assert "schema file changed" in run.steps[0]["detail"], run.steps
    assert run.lineage["declared"]["columns"] == {"island": "categorical"}
    assert run_pipeline().status == Status.SKIPPED
