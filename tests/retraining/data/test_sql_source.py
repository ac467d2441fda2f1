"""A database as a data source: its URL belongs in DATA_SOURCE_URL, never in DATA_REGISTRY (the
git + DVC registry its snapshots go into)."""

from __future__ import annotations

from pathlib import Path

import pytest

from retraining.data import DataError, DvcRegistrySource, configured
from retraining.pipeline.resources import transient


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
