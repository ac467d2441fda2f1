"""The data registry edge against real git and real DVC, with a local-directory DVC remote.

Building a registry costs a few DVC commands (about three seconds), so the tests that leave it as
they found it share one per module; each of them checks or restores what it touched.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import django.conf
import pandas as pd
import pytest

from retraining import data, demo
from retraining.data import DataError, DatasetVersion, DvcRegistrySource, FileSource, init_registry, publish

PATH = "data/penguins.csv"


@dataclass(frozen=True)
class Registry:
    repo: Path
    remote: Path
    first: DatasetVersion
    second: DatasetVersion
    seen_before_second: DatasetVersion


def write_csv(path: Path, rows: int, start: int = 0) -> Path:
    frame = pd.DataFrame({"bill_length_mm": [float(start + i) for i in range(rows)], "species": "Adelie"})
    frame.to_csv(path, index=False)
    return path


def git(repo: Path, *args: str) -> str:
    env = {key: value for key, value in os.environ.items() if not key.startswith("GIT_")}
    return subprocess.run(["git", *args], cwd=repo, env=env, capture_output=True, text=True, check=True).stdout


def commits(repo: Path) -> list[str]:
    return git(repo, "log", "--format=%H").split()


def remote_object(remote: Path, md5: str) -> Path:
    return remote / "files" / "md5" / md5[:2] / md5[2:]


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Registry:
    """Two published versions (3 rows, then 5), then the workspace copy and DVC's local cache
    deleted: from here on, the data exists only on the remote."""
    root = tmp_path_factory.mktemp("registry")
    repo, remote = root / "registry", root / "remote"
    init_registry(repo, str(remote))
    first = publish(repo, PATH, write_csv(root / "v1.csv", rows=3), "First version")
    seen_before_second = DvcRegistrySource(repo, PATH).version()
    second = publish(repo, PATH, write_csv(root / "v2.csv", rows=5), "Second version")
    (repo / PATH).unlink()
    shutil.rmtree(repo / ".dvc" / "cache")
    return Registry(repo, remote, first, second, seen_before_second)


@pytest.fixture
def unchanged(registry: Registry):
    """Asserts a bad input left no trace: no commit, no changed tracked file."""
    before = commits(registry.repo)
    yield
    assert commits(registry.repo) == before
    assert git(registry.repo, "status", "--porcelain") == ""


def test_bootstrap_creates_a_git_and_dvc_registry_with_the_data_on_its_remote(registry: Registry) -> None:
    log = git(registry.repo, "log", "--format=%s").splitlines()
    assert log == ["Second version", "First version", "Initialize the DVC data registry"]
    config = (registry.repo / ".dvc" / "config").read_text()
    assert "remote = storage" in config
    assert f"url = {registry.remote}" in config
    assert "analytics = false" in config
    assert (registry.repo / f"{PATH}.dvc").is_file()
    assert remote_object(registry.remote, registry.first.md5).is_file()
    assert remote_object(registry.remote, registry.second.md5).is_file()
    init_registry(registry.repo, str(registry.remote))
    assert len(commits(registry.repo)) == 3


def test_a_published_version_names_its_commit_and_dvcs_hash(registry: Registry, tmp_path: Path) -> None:
    csv_bytes = write_csv(tmp_path / "v1.csv", rows=3).read_bytes()
    assert registry.first.md5 == hashlib.md5(csv_bytes).hexdigest()
    assert registry.first.size == len(csv_bytes)
    assert registry.first.rev == commits(registry.repo)[1]
    assert registry.second.rev == commits(registry.repo)[0]
    assert registry.seen_before_second == registry.first


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


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"a,b\n1,2\n3,4,5\n", "is not a valid CSV file: .*Expected 2 fields in line 3, saw 3"),
        (b"", "is empty"),
        (b"a,b\n", "has a header but no rows"),
        (b"a,b\n\xff\xfe,1\n", "is not a valid CSV file"),
    ],
)
def test_a_file_that_is_not_a_usable_csv_is_refused(
    registry: Registry, unchanged: None, tmp_path: Path, content: bytes, problem: str
) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_bytes(content)
    with pytest.raises(DataError, match=problem):
        publish(registry.repo, PATH, bad, "bad data")


def test_a_missing_csv_file_is_refused(registry: Registry, unchanged: None, tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"missing\.csv does not exist"):
        publish(registry.repo, PATH, tmp_path / "missing.csv", "no data")


def test_republishing_identical_data_is_refused(registry: Registry, unchanged: None, tmp_path: Path) -> None:
    same = write_csv(tmp_path / "same.csv", rows=5)
    with pytest.raises(DataError, match="is identical to the published version"):
        publish(registry.repo, PATH, same, "same again")


def test_a_failed_push_commits_nothing_and_puts_the_workspace_back(
    registry: Registry, unchanged: None, tmp_path: Path
) -> None:
    away = registry.remote.with_name("remote-away")
    registry.remote.rename(away)
    registry.remote.write_text("not a directory")
    dvc_file = (registry.repo / f"{PATH}.dvc").read_text()
    try:
        with pytest.raises(DataError, match=r"dvc push of data/penguins\.csv to the registry's remote failed"):
            publish(registry.repo, PATH, write_csv(tmp_path / "v3.csv", rows=7), "Third version")
    finally:
        registry.remote.unlink()
        away.rename(registry.remote)
    assert (registry.repo / f"{PATH}.dvc").read_text() == dvc_file
    assert not (registry.repo / PATH).exists()


def test_a_file_source_is_versioned_by_content_and_notices_a_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    csv_file = write_csv(tmp_path / "penguins.csv", rows=4)
    source = FileSource(csv_file, cache_dir=tmp_path / "cache")
    first = source.version()
    assert first.md5 == hashlib.md5(csv_file.read_bytes()).hexdigest()
    assert (first.path, first.rev, first.size) == ("", "", csv_file.stat().st_size)
    with monkeypatch.context() as patched:
        patched.setattr(data.source, "file_md5", lambda path: pytest.fail("hashed an unchanged file again"))
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


def test_demo_batches_are_cumulative_shuffled_slices_of_the_penguins() -> None:
    batches = [demo.demo_frame(batch) for batch in range(1, demo.DEMO_BATCHES + 1)]
    assert [len(batch) for batch in batches] == [206, 275, 344]
    pd.testing.assert_frame_equal(batches[1].head(206), batches[0])
    pd.testing.assert_frame_equal(batches[2].head(275), batches[1])
    assert list(batches[2].columns) == [
        "species",
        "island",
        "bill_length_mm",
        "bill_depth_mm",
        "flipper_length_mm",
        "body_mass_g",
        "sex",
        "year",
    ]
    assert set(batches[0]["species"]) == {"Adelie", "Chinstrap", "Gentoo"}
    for out_of_range in (0, demo.DEMO_BATCHES + 1):
        with pytest.raises(ValueError, match="demo batch must be between 1 and 3"):
            demo.demo_frame(out_of_range)


def test_the_demo_registry_is_published_batch_by_batch_then_stops(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    no_identity = tmp_path / "empty-gitconfig"
    no_identity.touch()
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(no_identity))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    repo, remote = tmp_path / "registry", tmp_path / "remote"
    created = demo.ensure_demo_registry(repo, str(remote), PATH)
    assert created is not None
    assert demo.ensure_demo_registry(repo, str(remote), PATH) is None
    source = DvcRegistrySource(repo, PATH, cache_dir=tmp_path / "cache")
    assert source.version() == created
    rows = [len(pd.read_csv(repo / PATH))]
    for _ in range(2):
        published = demo.publish_next_demo_batch(repo, PATH)
        assert source.version() == published
        rows.append(len(pd.read_csv(repo / PATH)))
    assert rows == [206, 275, 344]
    before = commits(repo)
    with pytest.raises(DataError, match="all 3 demo batches are already published"):
        demo.publish_next_demo_batch(repo, PATH)
    assert commits(repo) == before
    assert set(git(repo, "log", "--format=%an <%ae>").splitlines()) == {"retraining <retraining@localhost>"}
    assert len(source.pull(created)) == 206
