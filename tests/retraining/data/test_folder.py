"""A DVC-tracked folder of daily files (or a glob inside it) read as one dataset, against real git
and DVC: a new file is new data, seen from DVC metadata only; files whose columns disagree are
refused, naming the file and the columns; a file inside the folder is a dataset of its own too."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import django.conf
import pandas as pd
import pytest

from retraining import data
from retraining.data import BadData, DataError, DvcRegistrySource
from retraining.data.folder import FolderSource
from tests.support.registries import add_days, build_folder_registry


def day(start: int, rows: int = 3) -> pd.DataFrame:
    return pd.DataFrame({"bill_length_mm": [40.0 + start + i for i in range(rows)], "species": "Adelie"})


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return build_folder_registry(tmp_path, {"2026-12-01.csv": day(0), "2026-12-02.csv": day(10)})


def test_a_file_inside_a_tracked_folder_is_versioned_and_read(folder: Path, tmp_path: Path) -> None:
    source = DvcRegistrySource(folder, "data/2026-12-02.csv", cache_dir=tmp_path / "cache")

    version = source.version()

    assert version.size is None  # DVC does not record it for a file inside a folder: unknown
    assert source.pull(version)["bill_length_mm"].tolist() == [50.0, 51.0, 52.0]


def test_a_tracked_folder_is_one_dataset_and_a_new_file_is_new_data(folder: Path, tmp_path: Path) -> None:
    source = FolderSource(folder, "data", cache_dir=tmp_path / "cache")
    remote = tmp_path / "remote"
    away = remote.with_name("remote-away")
    remote.rename(away)
    try:
        first = source.version()
    finally:
        away.rename(remote)
    assert not (tmp_path / "cache").exists()  # the check read DVC's metadata, not the data

    assert source.pull(first)["bill_length_mm"].tolist() == [40.0, 41.0, 42.0, 50.0, 51.0, 52.0]

    add_days(folder, {"2026-12-03.csv": day(20)})
    second = source.version()
    assert second.md5 != first.md5
    assert len(source.pull(second)) == 9
    assert len(source.pull(first)) == 6


def test_a_glob_reads_only_the_files_it_matches(folder: Path, tmp_path: Path) -> None:
    add_days(folder, {"notes.parquet": day(100, rows=1), "2026-12-03.parquet": day(20)})

    csv_only = FolderSource(folder, "data/2026-*.csv", cache_dir=tmp_path / "cache")
    every_day = FolderSource(folder, "data/2026-*", cache_dir=tmp_path / "cache")

    assert len(csv_only.pull(csv_only.version())) == 6
    assert len(every_day.pull(every_day.version())) == 9


def test_files_whose_columns_disagree_are_refused_naming_the_file_and_columns(folder: Path, tmp_path: Path) -> None:
    odd = day(20).rename(columns={"bill_length_mm": "bill_mm"}).assign(island="Dream")
    add_days(folder, {"2026-12-03.csv": odd})
    source = FolderSource(folder, "data", cache_dir=tmp_path / "cache")

    with pytest.raises(BadData) as refused:
        source.pull(source.version())

    message = str(refused.value)
    assert "data/2026-12-03.csv" in message
    assert "lacks 'bill_length_mm'" in message
    assert "has 'bill_mm', 'island' besides" in message
    assert "data/2026-12-01.csv" in message


def test_a_glob_matching_nothing_and_an_untracked_folder_are_named(folder: Path, tmp_path: Path) -> None:
    nothing = FolderSource(folder, "data/*.parquet", cache_dir=tmp_path / "cache")
    with pytest.raises(BadData, match=r"no file in data matches \*\.parquet"):
        nothing.pull(nothing.version())
    with pytest.raises(DataError, match="other is not tracked by DVC"):
        FolderSource(folder, "other", cache_dir=tmp_path / "cache").version()


def test_settings_naming_a_folder_or_a_glob_choose_a_folder_source(tmp_path: Path, monkeypatch) -> None:
    settings = SimpleNamespace(
        DATA_REGISTRY=str(tmp_path / "registry"), DATA_PATH="data", DATA_REV="main", DATA_CACHE_DIR=tmp_path
    )
    monkeypatch.setattr(django.conf, "settings", settings)
    assert isinstance(data.source_from_settings(), FolderSource)
    settings.DATA_PATH = "data/*.csv"
    assert isinstance(data.source_from_settings(), FolderSource)
    settings.DATA_PATH = "data/2026-12-01.csv"
    assert type(data.source_from_settings()) is DvcRegistrySource


def test_publishing_into_a_folder_adds_the_file_as_new_data(folder: Path, tmp_path: Path) -> None:
    import shutil

    shutil.rmtree(folder / "data")  # the workspace copy gone: publishing fetches it back first
    source = FolderSource(folder, "data", cache_dir=tmp_path / "cache")
    before = source.version()
    new_day = tmp_path / "2026-12-03.parquet"
    day(20).to_parquet(new_day, index=False)

    published = data.publish(folder, "data", new_day, "Add 2026-12-03")

    assert source.version() == published
    assert published.md5 != before.md5
    assert len(source.pull(published)) == 9
    with pytest.raises(DataError, match=r"already holds a file named 2026-12-03\.parquet"):
        data.publish(folder, "data", new_day, "Again")
