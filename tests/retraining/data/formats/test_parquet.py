"""Parquet files: read whole from a path or a stream, checked before they are published, and chosen
wherever a data file is named (a source, a registry path, `DATA_REGISTRY` naming a file)."""

import io
from pathlib import Path
from types import SimpleNamespace

import django.conf
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from retraining import data
from retraining.data import BadData, DataError, DvcRegistrySource, FileSource, publish
from retraining.data.formats import format_for
from retraining.data.formats.parquet import ParquetFormat
from tests.support.registries import Registry

PARQUET = ParquetFormat()


def penguins(rows: int, start: int = 0) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "bill_length_mm": [40.0 + start + i for i in range(rows)],
            "island": ["Biscoe", "Dream"] * (rows // 2) + ["Torgersen"] * (rows % 2),
            "species": "Adelie",
        }
    )


def write_parquet(path: Path, frame: pd.DataFrame) -> Path:
    frame.to_parquet(path, index=False)
    return path


def test_a_parquet_file_is_chosen_by_its_suffix() -> None:
    assert isinstance(format_for("data/penguins.parquet"), ParquetFormat)
    assert isinstance(format_for("DATA/PENGUINS.PQ"), ParquetFormat)


def test_a_parquet_file_is_read_from_a_path_and_from_a_stream(tmp_path: Path) -> None:
    path = write_parquet(tmp_path / "penguins.parquet", penguins(5))

    assert PARQUET.read(path, "penguins").equals(penguins(5))
    assert PARQUET.read(io.BytesIO(path.read_bytes()), "upload")["bill_length_mm"].tolist() == [
        40.0,
        41.0,
        42.0,
        43.0,
        44.0,
    ]


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"bill_length_mm,species\n40.1,Adelie\n", "is not a valid Parquet file"),
        (b"", "is not a valid Parquet file"),
    ],
)
def test_a_file_that_is_not_parquet_is_named_with_the_problem(tmp_path: Path, content: bytes, problem: str) -> None:
    path = tmp_path / "penguins.parquet"
    path.write_bytes(content)
    with pytest.raises(BadData, match=f"{path} {problem}"):
        PARQUET.read(path, str(path))
    with pytest.raises(BadData, match=f"{path} {problem}"):
        PARQUET.validate(path)


def test_a_parquet_file_without_rows_or_with_a_column_twice_is_refused(tmp_path: Path) -> None:
    empty = write_parquet(tmp_path / "empty.parquet", penguins(0))
    with pytest.raises(BadData, match="has no rows"):
        PARQUET.validate(empty)
    with pytest.raises(BadData, match="has no rows"):
        PARQUET.read(empty, str(empty))
    twice = tmp_path / "twice.parquet"
    pq.write_table(pa.table([[1, 2], [3, 4], ["a", "b"]], names=["island", "x", "island"]), twice)
    with pytest.raises(BadData, match=r"duplicate column names: 'island' \(columns 1, 3\)"):
        PARQUET.validate(twice)
    with pytest.raises(BadData, match=r"duplicate column names: 'island' \(columns 1, 3\)"):
        PARQUET.read(twice, str(twice))


def test_a_parquet_file_source_is_versioned_and_read(tmp_path: Path) -> None:
    path = write_parquet(tmp_path / "penguins.parquet", penguins(4))
    source = FileSource(path, cache_dir=tmp_path / "cache")

    version = source.version()

    assert source.pull(version).equals(penguins(4))
    write_parquet(path, penguins(4, start=10))
    with pytest.raises(DataError, match="changed since it was checked"):
        source.pull(version)


def test_data_registry_naming_a_parquet_file_is_a_file_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_parquet(tmp_path / "penguins.parquet", penguins(4))
    settings = SimpleNamespace(
        DATA_REGISTRY=str(path), DATA_PATH="data/penguins.csv", DATA_REV="main", DATA_CACHE_DIR=tmp_path / "cache"
    )
    monkeypatch.setattr(django.conf, "settings", settings)

    source = data.source_from_settings()

    assert isinstance(source, FileSource)
    assert len(source.pull(source.version())) == 4


def test_a_parquet_file_is_published_to_a_registry_and_pulled_back(registry: Registry, tmp_path: Path) -> None:
    path = "data/penguins.parquet"
    published = publish(registry.repo, path, write_parquet(tmp_path / "v1.parquet", penguins(6)), "Parquet")

    source = DvcRegistrySource(registry.repo, path, cache_dir=tmp_path / "cache")

    assert source.version() == published
    assert source.pull(published).equals(penguins(6))
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"a,b\n1,2\n")
    with pytest.raises(DataError, match=f"{bad} is not a valid Parquet file"):
        publish(registry.repo, path, bad, "not parquet")
