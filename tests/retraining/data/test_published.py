"""Which versions of a dataset were published up to a moment: the registry's git history, read
against real git and real DVC (what proves a row new to a model registered at that moment)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from retraining.data import DvcRegistrySource, FileSource, init_registry, publish
from retraining.data.folder import FolderSource
from tests.support.registries import PATH, add_days, build_folder_registry, git, write_csv

FIRST = datetime(2026, 3, 1, 9, 0, 0, tzinfo=UTC)
SECOND = datetime(2026, 3, 2, 9, 0, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def dated(tmp_path_factory: pytest.TempPathFactory):
    """A registry of three versions committed at known times: 3 rows, 5 rows, then the first
    3 rows again (a version seen before, listed once)."""
    root = tmp_path_factory.mktemp("dated")
    repo = root / "registry"
    init_registry(repo, str(root / "remote"))
    with pytest.MonkeyPatch.context() as env:
        env.setenv("GIT_COMMITTER_DATE", FIRST.isoformat())
        first = publish(repo, PATH, write_csv(root / "v1.csv", rows=3), "First version")
        env.setenv("GIT_COMMITTER_DATE", SECOND.isoformat())
        second = publish(repo, PATH, write_csv(root / "v2.csv", rows=5), "Second version")
        env.setenv("GIT_COMMITTER_DATE", (SECOND + timedelta(days=1)).isoformat())
        third = publish(repo, PATH, write_csv(root / "v3.csv", rows=3), "The first rows again")
    return repo, first, second, third


def test_the_versions_published_up_to_a_moment_are_listed_oldest_first_each_once(dated, tmp_path: Path) -> None:
    repo, first, second, third = dated
    source = DvcRegistrySource(repo, PATH, cache_dir=tmp_path / "cache")

    assert source.published(third, FIRST - timedelta(seconds=1)) == []
    assert source.published(third, FIRST) == [first]
    assert source.published(third, SECOND - timedelta(seconds=1)) == [first]
    assert source.published(third, SECOND + timedelta(days=2)) == [first, second]
    # Only the history of the version asked about: not what was published after it.
    assert source.published(second, SECOND + timedelta(days=2)) == [first, second]


def test_a_version_committed_within_the_moments_second_counts_as_published_before_it(dated, tmp_path: Path) -> None:
    repo, first, second, third = dated
    source = DvcRegistrySource(repo, PATH, cache_dir=tmp_path / "cache")

    # Git keeps the second: committed at 09:00:00.9 and registered at 09:00:00.5 cannot be told apart.
    assert source.published(third, SECOND + timedelta(milliseconds=500)) == [first, second]


def test_a_registry_given_by_git_url_reads_the_history_its_check_did_not_fetch(dated, tmp_path: Path) -> None:
    repo, first, second, _ = dated
    bare = tmp_path / "registry.git"
    git(tmp_path, "clone", "--quiet", "--bare", str(repo), str(bare))
    source = DvcRegistrySource(bare.as_uri(), PATH, cache_dir=tmp_path / "cache")
    newest = source.version()

    listed = source.published(newest, SECOND)

    assert [dataclasses.replace(v, source=first.source) for v in listed] == [first, second]
    assert len(source.pull(listed[1])) == 5


def test_a_tracked_folder_lists_each_version_of_the_folder(tmp_path: Path) -> None:
    day = pd.DataFrame({"bill_length_mm": [1.0, 2.0], "species": ["Adelie", "Gentoo"]})
    repo = build_folder_registry(tmp_path, {"2026-03-01.csv": day})
    source = FolderSource(repo, "data", cache_dir=tmp_path / "cache")
    before = source.version()
    add_days(repo, {"2026-03-02.csv": day.assign(bill_length_mm=[3.0, 4.0])})
    after = source.version()

    assert source.published(after, datetime.now(UTC) + timedelta(seconds=5)) == [before, after]
    assert source.published(after, datetime(2000, 1, 1, tzinfo=UTC)) == []


def test_a_plain_file_keeps_no_history_of_publication(tmp_path: Path) -> None:
    source = FileSource(write_csv(tmp_path / "data.csv", rows=3), cache_dir=tmp_path / "cache")

    assert source.published(source.version(), datetime.now(UTC)) is None
