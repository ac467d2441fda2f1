"""A database as a data source: its URL belongs in DATA_SOURCE_URL, never in DATA_REGISTRY (the
git + DVC registry its snapshots go into)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa

from ml.redact import protect_url
from retraining.data import DataError, DataUnavailable, DvcRegistrySource, configured, init_registry
from retraining.data.sql import SqlSource
from retraining.pipeline.resources import transient
from tests.support.registries import git


@pytest.mark.parametrize(
    "url",
    [
        "postgres://app:s3cr3t-pw@db.example.com:5432/sales",
        "postgresql+psycopg://app:s3cr3t-pw@db.example.com/sales",
        "mysql://app:s3cr3t-pw@db.example.com/sales",
        "sqlite:////srv/sales.db",
    ],
)
def test_a_database_url_as_the_registry_is_refused_naming_data_source_url(url: str, tmp_path: Path) -> None:
    source = DvcRegistrySource(url, "data/sales.parquet", cache_dir=tmp_path / "cache")

    with pytest.raises(DataError) as refused:
        source.version()

    said = str(refused.value)
    assert "DATA_SOURCE_URL" in said
    assert "git" not in said.replace("git + DVC", "").replace("git URL", "")
    assert "s3cr3t" not in said
    # A setting to change, not a service that will come back: the run fails at once.
    assert not transient(refused.value)
    assert not (tmp_path / "cache").exists()


def test_a_database_url_as_the_registry_is_a_system_check_error(settings) -> None:
    settings.DATA_REGISTRY = "postgres://app:s3cr3t-pw@db.example.com:5432/sales"

    found = configured.check_data_settings()

    assert [error.id for error in found] == ["retraining.E006"]
    assert "DATA_SOURCE_URL" in found[0].msg
    assert "s3cr3t" not in found[0].msg


def sales(rows: int, start: int = 0) -> pd.DataFrame:
    ids = range(start, start + rows)
    return pd.DataFrame({"id": list(ids), "amount": [float(i % 7) for i in ids], "bought": [i % 2 for i in ids]})


@pytest.fixture
def database(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'sales.db'}"
    sales(120).to_sql("sales", sa.create_engine(url), index=False)
    return url


@pytest.fixture
def into(tmp_path: Path) -> DvcRegistrySource:
    init_registry(tmp_path / "registry", str(tmp_path / "remote"))
    return DvcRegistrySource(tmp_path / "registry", "data/sales.parquet", cache_dir=tmp_path / "cache")


def counted(source: SqlSource) -> list[str]:
    statements: list[str] = []
    sa.event.listen(source._engine_or_error(), "before_cursor_execute", lambda *args: statements.append(args[2]))
    return statements


def test_the_first_check_snapshots_the_table_into_a_new_dvc_revision(database: str, into: DvcRegistrySource) -> None:
    source = SqlSource(database, into, table="sales", watermark="id", chunk_rows=50)

    version = source.version()

    frame = source.pull(version)
    assert len(frame) == 120
    assert list(frame.columns) == ["id", "amount", "bought"]
    message = git(into.repo, "log", "-1", "--format=%B")
    assert "Source-Query: SELECT * FROM" in message
    assert "Source-Watermark: id = 119" in message
    assert "Source-Rows: 120" in message
    # Read in chunks of 50: three row groups, never the whole table in one frame.
    assert pq.ParquetFile(into.cache_dir / f"{version.md5}.parquet").num_row_groups == 3


def test_a_check_that_finds_no_change_costs_one_small_query(database: str, into: DvcRegistrySource) -> None:
    first = SqlSource(database, into, table="sales", watermark="id").version()
    source = SqlSource(database, into, table="sales", watermark="id")
    statements = counted(source)

    assert source.version() == first

    assert len(statements) == 1
    assert statements[0].startswith("SELECT COUNT(*), MAX(id) FROM")
    assert git(into.repo, "rev-list", "--count", "HEAD") == "2\n"


def test_new_rows_are_a_new_revision_with_the_query_and_watermark_in_its_message(
    database: str, into: DvcRegistrySource
) -> None:
    query = "SELECT id, amount, bought FROM sales WHERE amount >= 0"
    first = SqlSource(database, into, query=query, watermark="id").version()
    sales(500, start=120).to_sql("sales", sa.create_engine(database), index=False, if_exists="append")

    second = SqlSource(database, into, query=query, watermark="id").version()

    assert second.rev != first.rev
    assert len(into.pull(second)) == 620
    assert len(into.pull(first)) == 120
    message = git(into.repo, "log", "-1", "--format=%B")
    assert f"Source-Query: {query}" in message
    assert "Source-Watermark: id = 619" in message


def test_a_missing_watermark_column_is_named_with_the_columns_there_are(database: str, into: DvcRegistrySource) -> None:
    with pytest.raises(DataError) as refused:
        SqlSource(database, into, table="sales", watermark="updated_at").version()

    assert str(refused.value) == (
        "DATA_WATERMARK_COLUMN='updated_at' is not a column of table sales (it has id, amount, bought)"
    )
    assert not transient(refused.value)


def test_a_wrong_query_is_not_retried(database: str, into: DvcRegistrySource) -> None:
    with pytest.raises(DataError) as refused:
        SqlSource(database, into, query="SELECT * FROM nowhere", watermark="id").version()

    assert "DATA_QUERY failed on sqlite:///" in str(refused.value)
    assert "no such table: nowhere" in str(refused.value)
    assert not isinstance(refused.value, DataUnavailable)
    assert not transient(refused.value)


def test_a_database_that_refuses_is_unreachable_and_retried(into: DvcRegistrySource) -> None:
    url = "postgresql://app:s3cr3t-pw@127.0.0.1:9/sales"
    protect_url(url)

    with pytest.raises(DataUnavailable) as refused:
        SqlSource(url, into, table="sales", watermark="id").version()

    assert "database postgresql://***@127.0.0.1:9/sales is unreachable" in str(refused.value)
    assert "s3cr3t" not in str(refused.value)
    assert transient(refused.value)


@pytest.mark.parametrize(
    ("changes", "said"),
    [
        ({"DATA_TABLE": ""}, "neither DATA_TABLE nor DATA_QUERY"),
        ({"DATA_QUERY": "SELECT * FROM sales"}, "both DATA_TABLE and DATA_QUERY are set"),
        ({"DATA_WATERMARK_COLUMN": ""}, "without DATA_WATERMARK_COLUMN"),
        ({"DATA_PATH": "data/sales.csv"}, "DATA_PATH='data/sales.csv': a database is snapshotted as Parquet"),
        ({"DATA_SOURCE_URL": "https://example.com/sales"}, "is not a database URL"),
        ({"DATA_SOURCE_URL": ""}, "DATA_TABLE, DATA_WATERMARK_COLUMN set without DATA_SOURCE_URL"),
    ],
)
def test_a_bad_combination_of_source_settings_is_a_system_check_error(settings, changes, said) -> None:
    settings.DATA_SOURCE_URL = "postgresql://app:s3cr3t-pw@db.example.com/sales"
    settings.DATA_TABLE, settings.DATA_QUERY, settings.DATA_WATERMARK_COLUMN = "sales", "", "id"
    settings.DATA_PATH = "data/sales.parquet"
    for name, value in changes.items():
        setattr(settings, name, value)

    found = configured.check_sql_source_settings()

    assert [error.id for error in found] == ["retraining.E007"]
    assert said in found[0].msg


def test_a_complete_source_is_no_error(settings) -> None:
    settings.DATA_SOURCE_URL = "postgresql://app:s3cr3t-pw@db.example.com/sales"
    settings.DATA_TABLE, settings.DATA_QUERY, settings.DATA_WATERMARK_COLUMN = "sales", "", "id"
    settings.DATA_PATH = "data/sales.parquet"

    assert configured.check_sql_source_settings() == []


@pytest.fixture
def postgres_table() -> Iterator[str]:
    """A table in a database of its own on the machine's PostgreSQL (trust auth: any password is
    accepted, so the URL can carry one to prove it never shows)."""
    import psycopg

    name = f"sales_{uuid.uuid4().hex[:12]}"
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = f"postgresql://postgres:s3cr3t-pw-29@127.0.0.1:5432/{name}"
    sales(30).to_sql("sales", sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://")), index=False)
    yield url
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_a_snapshot_from_postgresql_never_records_the_databases_password(
    postgres_table: str, into: DvcRegistrySource
) -> None:
    protect_url(postgres_table)
    source = SqlSource(postgres_table, into, table="sales", watermark="id")

    version = source.version()

    assert len(source.pull(version)) == 30
    history = git(into.repo, "log", "--format=%B")
    assert "Source-Rows: 30" in history
    assert "postgresql://***@127.0.0.1:5432/" in history
    assert "s3cr3t" not in history + repr(source) + str(version)
