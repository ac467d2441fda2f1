"""The demo data: cumulative batches of the penguins, published into a registry one by one."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from demo import batches
from retraining.data import DataError, DvcRegistrySource, publish
from tests.support.registries import PATH, commits, git


def test_demo_batches_are_cumulative_shuffled_slices_of_the_penguins() -> None:
    frames = [batches.demo_frame(batch, "penguins") for batch in range(1, batches.DEMO_BATCHES + 1)]
    assert [len(batch) for batch in frames] == [206, 275, 344]
    pd.testing.assert_frame_equal(frames[1].head(206), frames[0])
    pd.testing.assert_frame_equal(frames[2].head(275), frames[1])
    assert list(frames[2].columns) == [
        "species",
        "island",
        "bill_length_mm",
        "bill_depth_mm",
        "flipper_length_mm",
        "body_mass_g",
        "sex",
        "year",
    ]
    assert set(frames[0]["species"]) == {"Adelie", "Chinstrap", "Gentoo"}
    for out_of_range in (0, batches.DEMO_BATCHES + 1):
        with pytest.raises(ValueError, match="demo batch must be between 1 and 3"):
            batches.demo_frame(out_of_range, "penguins")


def test_the_demo_registry_is_published_batch_by_batch_then_stops(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    no_identity = tmp_path / "empty-gitconfig"
    no_identity.touch()
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(no_identity))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    repo, remote = tmp_path / "registry", tmp_path / "remote"
    created = batches.ensure_demo_registry(repo, str(remote), PATH, dataset="penguins")
    assert created is not None
    assert batches.ensure_demo_registry(repo, str(remote), PATH, dataset="penguins") is None
    source = DvcRegistrySource(repo, PATH, cache_dir=tmp_path / "cache")
    assert source.version() == created
    rows = [len(pd.read_csv(repo / PATH))]
    for _ in range(2):
        published = batches.publish_next_demo_batch(repo, PATH, "penguins")
        assert source.version() == published
        rows.append(len(pd.read_csv(repo / PATH)))
    assert rows == [206, 275, 344]
    before = commits(repo)
    with pytest.raises(DataError, match="all 3 demo batches are already published"):
        batches.publish_next_demo_batch(repo, PATH, "penguins")
    assert commits(repo) == before
    assert set(git(repo, "log", "--format=%an <%ae>").splitlines()) == {"retraining <retraining@localhost>"}
    assert len(source.pull(created)) == 206


def test_a_demo_folder_gets_one_partition_per_batch_read_as_the_whole_batch(tmp_path: Path) -> None:
    from retraining.data.folder import FolderSource

    repo, folder = tmp_path / "registry", "data/penguins"
    created = batches.ensure_demo_registry(repo, str(tmp_path / "remote"), folder, dataset="penguins")
    source = FolderSource(repo, folder, cache_dir=tmp_path / "cache")
    assert source.version() == created
    # A file of another name (labelled traffic) is one more partition, not a demo batch.
    labelled = tmp_path / "feedback-20261207T100000.csv"
    batches.demo_frame(1, "penguins").head(1).to_csv(labelled, index=False)
    publish(repo, folder, labelled, "Labelled traffic")
    published = [batches.publish_next_demo_batch(repo, folder, "penguins") for _ in range(2)]

    assert sorted(p.name for p in (repo / folder).glob("batch-*.csv")) == ["batch-1.csv", "batch-2.csv", "batch-3.csv"]
    assert len(pd.read_csv(repo / folder / "batch-2.csv")) == 275 - 206
    whole = batches.demo_frame(3, "penguins")
    pulled = source.pull(published[-1])
    # The batches first in name order, then the labelled row.
    assert len(pulled) == len(whole) + 1
    pd.testing.assert_frame_equal(pulled.head(len(whole)), whole.reset_index(drop=True), check_dtype=False)
    with pytest.raises(DataError, match=r"all 3 demo batches are already published \(batch-3.csv in data/penguins\)"):
        batches.publish_next_demo_batch(repo, folder, "penguins")
