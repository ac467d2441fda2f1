"""End to end through real processes: a team's table in its own database (the machine's real
PostgreSQL, or a SQLite file as in the embedded column) as the data source.

The first `manage.py retrain` snapshots the table into a new DVC revision of the registry and
bootstraps a champion; a second finds nothing changed; 500 rows are inserted, and the next run
snapshots them into a new revision, retrains and deploys or keeps. `manage.py reproduce` then
retrains each model from its DVC revision with the source database dropped.
"""

import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import psycopg
import pytest
import sqlalchemy as sa

from demo.batches import demo_frame
from retraining.data import init_registry
from retraining.models import RetrainingRun
from tests.support.processes import manage, subprocess_env

pytestmark = pytest.mark.slow
BIN = Path(sys.executable).parent
SERVER = "postgresql://postgres@127.0.0.1:5432"


def penguins(rows: int, start: int) -> pd.DataFrame:
    frame = demo_frame(3, "penguins").sample(n=rows, replace=True, random_state=start).reset_index(drop=True)
    frame.insert(0, "penguin_id", range(start, start + rows))
    return frame


@pytest.fixture(params=["postgresql", "sqlite"])
def database(request, tmp_path: Path) -> Iterator[tuple[str, callable]]:
    """(the source's URL, a function that drops the database)."""
    if request.param == "sqlite":
        path = tmp_path / "team.db"
        yield f"sqlite:///{path}", lambda: path.unlink()
        return
    name = f"team_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    yield f"{SERVER}/{name}", drop
    drop()


@pytest.fixture
def team(transactional_db, model_name, served_model, settings, database, tmp_path: Path) -> dict[str, str]:
    url, _ = database
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://"), poolclass=sa.pool.NullPool)
    penguins(200, start=0).to_sql("penguins", engine, index=False)
    repo = tmp_path / "registry"
    init_registry(repo, str(tmp_path / "remote"))
    settings.DATA_REGISTRY, settings.DATA_REMOTE = str(repo), str(tmp_path / "remote")
    settings.DATA_PATH, settings.DATA_CACHE_DIR = "data/penguins.parquet", tmp_path / "cache"
    settings.DEMO_DATASET, settings.TARGET_COLUMN = "penguins", "species"
    return subprocess_env(
        DATA_IS_DEMO="false",
        DATA_SOURCE_URL=url,
        DATA_TABLE="penguins",
        DATA_WATERMARK_COLUMN="penguin_id",
        DATA_ID_COLUMN="penguin_id",
        DATA_SNAPSHOT_CHUNK_ROWS="128",
        TRAINING_PARAMS='{"n_estimators": 30}',
    )


def test_a_table_is_snapshotted_retrained_on_new_rows_and_reproduced_without_the_database(
    team, database, tmp_path
) -> None:
    url, drop = database
    manage(team, "retrain")
    first = RetrainingRun.objects.get()
    assert first.status == "deployed", first.reasons
    assert first.dataset["path"] == "data/penguins.parquet"
    assert first.rows["total"] == 200

    manage(team, "retrain")
    assert RetrainingRun.objects.latest("id").status == "skipped"

    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://"), poolclass=sa.pool.NullPool)
    penguins(500, start=200).to_sql("penguins", engine, index=False, if_exists="append")
    engine.dispose()
    manage(team, "retrain")
    third = RetrainingRun.objects.latest("id")
    assert third.status in ("deployed", "kept"), (third.status, third.reasons)
    assert third.dataset["rev"] != first.dataset["rev"]
    assert third.rows["total"] == 700

    drop()
    for run in (first, third):
        assert "reproduced: identical outputs" in manage(team, "reproduce", run.model_version)
