"""End to end through real processes: a team's folder of daily CSV files, growing by one file a day,
and a registry holding one Parquet file.

The registry tracks `data` as one DVC folder. Each day a file is published into it with
`manage.py publish_data`, and `manage.py retrain` (a process of its own) sees the new file from
DVC metadata, retrains, and deploys or keeps; `manage.py reproduce` confirms every model it made,
and gunicorn serves the champion to clients that send the whole record (its id column included).
Runs on whichever column the suite runs on: every process shares the test database.
"""

import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import requests
from django.core.management import call_command

from demo.batches import demo_frame
from retraining.data import init_registry
from retraining.models import RetrainingRun
from tests.support.processes import gunicorn, manage, serves, subprocess_env, wait_for
from tests.support.registries import build_folder_registry

pytestmark = pytest.mark.slow
BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parents[1]


def daily_files() -> list[pd.DataFrame]:
    frame = demo_frame(3, "penguins").reset_index(drop=True)
    frame.insert(0, "band", [f"b{i:05d}" for i in range(len(frame))])
    return [frame.iloc[rows] for rows in np.array_split(np.arange(len(frame)), 4)]


@pytest.fixture
def team(transactional_db, model_name, served_model, settings, tmp_path: Path) -> list[pd.DataFrame]:
    days = daily_files()
    point_at(settings, build_folder_registry(tmp_path, {"2026-12-01.csv": days[0]}), "data", tmp_path)
    return days


def point_at(settings, repo: Path, path: str, tmp_path: Path) -> None:
    """Every process of the test reads the penguins from `path` in this registry."""
    settings.DATA_REGISTRY = str(repo)
    settings.DATA_REMOTE = str(tmp_path / "remote")
    settings.DATA_PATH = path
    settings.DATA_CACHE_DIR = tmp_path / "cache"
    settings.DEMO_DATASET = "penguins"
    settings.TARGET_COLUMN = "species"


@pytest.fixture
def env(team) -> dict[str, str]:
    return subprocess_env(DATA_IS_DEMO="false", DATA_ID_COLUMN="band", TRAINING_PARAMS='{"n_estimators": 30}')


@pytest.fixture
def web(env, tmp_path: Path) -> Iterator[str]:
    call_command("collectstatic", "--noinput", verbosity=0)
    with gunicorn(env, tmp_path / "web.log") as base:
        yield base


def wait_served(base: str, version: str) -> None:
    wait_for(lambda: serves(base, version), 60, f"v{version} served", interval=0.5)


def test_a_folder_growing_a_daily_file_is_retrained_on_each_day_and_reproduced(team, env, web, tmp_path) -> None:
    manage(env, "retrain")
    first = RetrainingRun.objects.get()
    assert first.status == "deployed", first.reasons
    assert first.dataset["path"] == "data"
    wait_served(web, first.model_version)
    assert "skipped" in manage(env, "retrain") or RetrainingRun.objects.latest("id").status == "skipped"

    rows = sum(len(day) for day in team[:1])
    for number, day in enumerate(team[1:], start=2):
        day_file = tmp_path / f"2026-12-0{number}.csv"
        day.to_csv(day_file, index=False)
        manage(env, "publish_data", str(day_file), "-m", f"Day {number}")
        manage(env, "retrain")
        run = RetrainingRun.objects.latest("id")
        rows += len(day)
        assert run.status in ("deployed", "kept"), (run.status, run.reasons)
        assert run.rows["total"] == rows
        assert run.lineage["read_as"]["files"] == number
        assert "reproduced: identical outputs" in manage(env, "reproduce", run.model_version)
        if run.status == "deployed":
            wait_served(web, run.model_version)

    record = team[-1].drop(columns=["species"]).head(3)
    instances = [{k: (None if v != v else v) for k, v in row.items()} for row in record.to_dict("records")]
    answer = requests.post(f"{web}/api/v1/predict", json={"instances": instances}, timeout=30)
    assert answer.status_code == 200, answer.text
    assert requests.get(f"{web}/api/v1/model", timeout=10).json()["input_schema"]["ignored"] == ["band"]


@pytest.fixture
def parquet_team(transactional_db, model_name, served_model, settings, tmp_path: Path) -> Path:
    repo = tmp_path / "registry"
    init_registry(repo, str(tmp_path / "remote"))
    point_at(settings, repo, "data/penguins.parquet", tmp_path)
    return repo


def test_a_registry_holding_a_parquet_file_is_published_retrained_and_reproduced(parquet_team, tmp_path) -> None:
    env = subprocess_env(DATA_IS_DEMO="false", TRAINING_PARAMS='{"n_estimators": 30}')
    for batch in (1, 2):
        path = tmp_path / f"batch{batch}.parquet"
        demo_frame(batch, "penguins").to_parquet(path, index=False)
        manage(env, "publish_data", str(path), "-m", f"Batch {batch}")
        manage(env, "retrain")
        run = RetrainingRun.objects.latest("id")
        assert run.status in ("deployed", "kept"), (run.status, run.reasons)
        assert run.dataset["path"] == "data/penguins.parquet"
        assert run.lineage["read_as"]["format"] == "Parquet"
        assert "reproduced: identical outputs" in manage(env, "reproduce", run.model_version)
    assert RetrainingRun.objects.order_by("id").first().status == "deployed"
    assert RetrainingRun.objects.count() == 2
