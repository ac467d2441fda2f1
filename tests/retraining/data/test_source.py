"""Reading dataset versions: from a DVC registry (local path or git URL) or a plain CSV file,
against real git and real DVC with a local-directory DVC remote."""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path
from types import SimpleNamespace

import django.conf
import pytest

from retraining import data
from retraining.data import DataError, DvcRegistrySource, FileSource, publish
from retraining.data.sql import SqlSource
from tests.support.registries import PATH, Registry, git, remote_object, write_csv


def test_a_new_version_is_seen_from_dvc_metadata_without_reading_the_data(registry: Registry, tmp_path: Path) -> None:
    away = registry.remote.with_name("remote-away")
    registry.remote.rename(away)
    try:
        seen = DvcRegistrySource(registry.repo, PATH, cache_dir=tmp_path / "cache").version()
    finally:
        away.rename(registry.remote)
    assert seen == registry.second
    assert seen.md5 != registry.first.md5
    assert not (tmp_path / "cache").exists()


def test_pull_fetches_the_version_from_the_remote_and_reuses_its_copy(registry: Registry, tmp_path: Path) -> None:
    source = DvcRegistrySource(registry.repo, PATH, cache_dir=tmp_path / "cache")
    frame = source.pull(source.version())
    assert len(frame) == 5
    assert list(frame.columns) == ["bill_length_mm", "species"]
    assert (tmp_path / "cache" / f"{registry.second.md5}.csv").is_file()
    away = registry.remote.with_name("remote-away")
    registry.remote.rename(away)
    try:
        assert len(source.pull(registry.second)) == 5
    finally:
        away.rename(registry.remote)


def test_pull_of_an_older_version_returns_the_older_data(registry: Registry, tmp_path: Path) -> None:
    source = DvcRegistrySource(registry.repo, PATH, cache_dir=tmp_path / "cache")
    assert len(source.pull(registry.first)) == 3
    assert len(source.pull(registry.second)) == 5
    assert DvcRegistrySource(registry.repo, PATH, rev=registry.first.rev).version() == registry.first


def test_pull_refuses_data_whose_hash_differs_from_dvcs_record(registry: Registry, tmp_path: Path) -> None:
    stored = remote_object(registry.remote, registry.first.md5)
    original = stored.read_bytes()
    stored.chmod(0o644)
    stored.write_bytes(original.replace(b"1.0", b"9.0"))
    try:
        source = DvcRegistrySource(registry.repo, PATH, cache_dir=tmp_path / "cache")
        with pytest.raises(DataError, match=f"DVC records {registry.first.md5}"):
            source.pull(registry.first)
    finally:
        stored.write_bytes(original)
    assert list((tmp_path / "cache").glob("*.csv")) == []


def test_a_registry_given_by_git_url_is_checked_pulled_and_published(registry: Registry, tmp_path: Path) -> None:
    bare = tmp_path / "registry.git"
    git(tmp_path, "clone", "--quiet", "--bare", str(registry.repo), str(bare))
    url = bare.as_uri()
    source = DvcRegistrySource(url, PATH, cache_dir=tmp_path / "cache")
    assert dataclasses.replace(source.version(), source=registry.second.source) == registry.second
    third = publish(url, PATH, write_csv(tmp_path / "v3.csv", rows=7), "Third version")
    assert (third.source, third.rev) == (url, git(bare, "rev-parse", "main").strip())
    assert source.version() == third
    assert len(source.pull(third)) == 7


def test_a_registry_url_with_credentials_is_recorded_and_named_without_them(registry: Registry, tmp_path: Path) -> None:
    # git accepts a user and password in a file URL; DVC's own git does not, as a remote that
    # refuses them would not: the URL both succeeds and fails as a real one does.
    url = f"file://user:s3cr3t-pw@localhost{registry.repo}"
    source = DvcRegistrySource(url, PATH, cache_dir=tmp_path / "cache")

    version = source.version()
    assert version.source == f"file://***@localhost{registry.repo}"
    assert version.md5 == registry.second.md5
    with pytest.raises(DataError) as fetching:
        source.pull(version)
    assert "file://***@localhost" in str(fetching.value)
    assert "s3cr3t" not in str(fetching.value) + repr(source)
    closed = DvcRegistrySource("https://user:s3cr3t-pw@127.0.0.1:9/registry.git", PATH, cache_dir=tmp_path / "c2")
    with pytest.raises(data.DataUnavailable) as unreachable:
        closed.version()
    assert "data registry https://***@127.0.0.1:9/registry.git is unreachable" in str(unreachable.value)
    assert "s3cr3t" not in str(unreachable.value)


def test_a_version_recorded_with_its_registrys_credentials_is_still_pulled(registry: Registry, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    expected = DvcRegistrySource(registry.repo, PATH, cache_dir=cache).pull(registry.second)
    url = f"file://user:s3cr3t-pw@localhost{registry.repo}"
    # As a model logged before sources were redacted recorded it; the data is in the cache.
    recorded = dataclasses.replace(registry.second, source=url)
    source = DvcRegistrySource(url, PATH, cache_dir=cache)
    source.version()  # the check before the pull: it mirrors the registry

    assert source.pull(recorded).equals(expected)


def test_a_missing_registry_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(DataError, match=r"data registry \S*nowhere does not exist"):
        DvcRegistrySource(tmp_path / "nowhere", PATH).version()
    with pytest.raises(DataError, match=r"data registry \S*nowhere does not exist"):
        publish(tmp_path / "nowhere", PATH, write_csv(tmp_path / "v.csv", rows=2), "never")
    outer = tmp_path / "outer"
    git(tmp_path, "init", "--quiet", str(outer))
    (outer / "registry").mkdir()
    monkeypatch.setenv("GIT_DIR", str(outer / ".git"))
    with pytest.raises(DataError, match=r"registry\S* is not a git repository"):
        DvcRegistrySource(outer / "registry", PATH).version()


def test_an_untracked_path_or_revision_is_named(registry: Registry, unchanged: None) -> None:
    with pytest.raises(DataError, match=r"data/other\.csv is not tracked by DVC"):
        DvcRegistrySource(registry.repo, "data/other.csv").version()
    with pytest.raises(DataError, match="revision 'release' not found"):
        DvcRegistrySource(registry.repo, PATH, rev="release").version()
    with pytest.raises(DataError, match="must be a file path relative to the registry root"):
        DvcRegistrySource(registry.repo, "../outside.csv")


def test_a_file_source_is_versioned_by_content_and_notices_a_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    csv_file = write_csv(tmp_path / "penguins.csv", rows=4)
    source = FileSource(csv_file, cache_dir=tmp_path / "cache")
    first = source.version()
    assert first.md5 == hashlib.md5(csv_file.read_bytes()).hexdigest()
    assert (first.path, first.rev, first.size) == ("", "", csv_file.stat().st_size)
    with monkeypatch.context() as patched:
        patched.setattr(data.file, "file_md5", lambda path: pytest.fail("hashed an unchanged file again"))
        assert FileSource(csv_file, cache_dir=tmp_path / "cache").version() == first
    assert len(source.pull(first)) == 4

    write_csv(csv_file, rows=4, start=5)
    assert csv_file.stat().st_size == first.size
    second = source.version()
    assert second.md5 != first.md5
    with pytest.raises(DataError, match="changed since it was checked"):
        source.pull(first)
    csv_file.unlink()
    with pytest.raises(DataError, match=r"penguins\.csv cannot be read"):
        source.version()


def test_settings_choose_the_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = SimpleNamespace(
        DATA_REGISTRY=str(tmp_path / "registry"), DATA_PATH=PATH, DATA_REV="v2", DATA_CACHE_DIR=tmp_path / "cache"
    )
    monkeypatch.setattr(django.conf, "settings", settings)
    source = data.source_from_settings()
    assert isinstance(source, DvcRegistrySource)
    assert (source.source, source.path, source.rev, source.cache_dir) == (
        str(tmp_path / "registry"),
        PATH,
        "v2",
        tmp_path / "cache",
    )
    settings.DATA_REGISTRY = str(tmp_path / "penguins.csv")
    assert isinstance(data.source_from_settings(), FileSource)
    settings.DATA_REGISTRY, settings.DATA_PATH, settings.DATA_REMOTE = str(tmp_path / "registry"), "data/s.parquet", ""
    settings.DATA_SOURCE_URL, settings.DATA_TABLE, settings.DATA_QUERY = "sqlite:///sales.db", "sales", ""
    settings.DATA_WATERMARK_COLUMN, settings.DATA_SNAPSHOT_CHUNK_ROWS = "id", 100
    assert isinstance(data.source_from_settings(), SqlSource)


def test_a_file_source_reads_the_file_once_as_it_parses_it_never_whole_in_memory(tmp_path: Path) -> None:
    import tracemalloc

    csv_file = tmp_path / "notes.csv"
    note = "a long free-text note " * 10
    csv_file.write_text("size,note\n" + "".join(f"{i % 7},{note}{i % 3}\n" for i in range(40_000)))
    source = FileSource(csv_file, cache_dir=tmp_path / "cache")
    version = source.version()
    tracemalloc.start()
    try:
        frame = source.pull(version)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

    assert frame.shape == (40_000, 2)
    assert frame["note"].iloc[5] == f"{note}2"
    # The file is 8.5 MiB (read whole, 9.1 MiB were traced); the frame keeps its text in Arrow.
    assert peak < version.size / 4, f"{peak / 2**20:.1f} MiB traced for a {version.size / 2**20:.1f} MiB file"


def test_a_file_changed_into_bad_csv_since_its_check_is_named_as_changed(tmp_path: Path) -> None:
    csv_file = write_csv(tmp_path / "penguins.csv", rows=4)
    source = FileSource(csv_file, cache_dir=tmp_path / "cache")
    checked = source.version()
    csv_file.write_text('island,island\n"unclosed\n')

    with pytest.raises(DataError, match="changed since it was checked") as refused:
        source.pull(checked)

    assert not isinstance(refused.value, data.BadData)
