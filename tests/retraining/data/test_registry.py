"""Creating a data registry and publishing versions into it, against real git and DVC; a bad
input leaves no trace."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from retraining.data import DataError, init_registry, publish
from tests.support.registries import PATH, Registry, commits, git, remote_object, write_csv


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


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"a,b\n1,2\n3,4,5\n", "is not a valid CSV file: .*Expected 2 fields in line 3, saw 3"),
        (b"", "is empty"),
        (b"a,b\n", "has a header but no rows"),
        (b"PAR1\x15\x04\x15\x00\x00binary", "is not a valid CSV file: it holds NUL bytes"),
        (b"island,x,island\n1,2,3\n", r"duplicate column names: 'island' \(columns 1, 3\)"),
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
