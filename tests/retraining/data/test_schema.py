"""The data's schema file, kept in git beside the data: the declared dialect and column kinds are
used to read the data and travel with the frame; a bad schema file is named with its problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from retraining.data import BadData, DvcRegistrySource, FileSource, init_registry, publish
from retraining.data.folder import FolderSource
from retraining.data.schema import parse, schema_path
from tests.support.registries import add_days, build_folder_registry, git

SCHEMA = """\
dialect:
  separator: ";"
  decimal: ","
columns:
  zip: categorical
  plan_code: categorical
  customer_id: id
"""


def commit_schema(repo: Path, path: str, text: str) -> None:
    (repo / path).parent.mkdir(parents=True, exist_ok=True)
    (repo / path).write_text(text)
    git(repo, "add", path)
    git(repo, "-c", "user.name=t", "-c", "user.email=t@localhost", "commit", "--quiet", "-m", "Schema")


def test_the_schema_file_is_beside_the_file_or_the_folder() -> None:
    assert schema_path("data/penguins.csv") == "data/penguins.csv.schema.yaml"
    assert schema_path("data") == "data.schema.yaml"
    assert schema_path("data/*.parquet") == "data.schema.yaml"


def test_a_registry_file_is_read_as_its_schema_file_declares(tmp_path: Path) -> None:
    repo = tmp_path / "registry"
    init_registry(repo, str(tmp_path / "remote"))
    data_file = tmp_path / "customers.csv"
    data_file.write_text("customer_id;zip;plan_code;fee;churned\n7;2111;1;9,5;yes\n8;10001;2;3,25;no\n")
    commit_schema(repo, "data/customers.csv.schema.yaml", SCHEMA)
    version = publish(repo, "data/customers.csv", data_file, "Customers")

    frame = DvcRegistrySource(repo, "data/customers.csv", cache_dir=tmp_path / "cache").pull(version)

    assert frame["zip"].tolist() == ["2111", "10001"]
    assert frame["plan_code"].tolist() == ["1", "2"]
    assert frame["fee"].tolist() == [9.5, 3.25]
    assert frame.attrs["declared"]["columns"] == {"zip": "categorical", "plan_code": "categorical", "customer_id": "id"}
    assert frame.attrs["declared"]["file"].startswith("data/customers.csv.schema.yaml@")
    assert frame.attrs["read_as"]["separator"] == ";"


def test_a_folder_reads_its_schema_file_too(tmp_path: Path) -> None:
    import pandas as pd

    day = pd.DataFrame({"zip": [2111, 10001], "churned": ["yes", "no"]})
    repo = build_folder_registry(tmp_path, {"2026-12-01.csv": day})
    commit_schema(repo, "data.schema.yaml", "columns:\n  zip: categorical\n")
    add_days(repo, {"2026-12-02.csv": day})
    source = FolderSource(repo, "data", cache_dir=tmp_path / "cache")

    frame = source.pull(source.version())

    assert frame["zip"].tolist() == ["2111", "10001", "2111", "10001"]
    assert frame.attrs["read_as"]["files"] == 2
    assert frame.attrs["declared"]["columns"] == {"zip": "categorical"}


def test_a_file_source_reads_the_schema_file_beside_it(tmp_path: Path) -> None:
    data_file = tmp_path / "customers.csv"
    data_file.write_text("zip,churned\n2111,yes\n10001,no\n")
    (tmp_path / "customers.csv.schema.yaml").write_text("columns:\n  zip: categorical\n")
    source = FileSource(data_file, cache_dir=tmp_path / "cache")

    assert source.pull(source.version())["zip"].tolist() == ["2111", "10001"]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("columns: [a, b]\n", "columns must map each column's name to its kind"),
        ("columns:\n  zip: postcode\n", r"declares unknown column kinds \('zip': 'postcode'\)"),
        ("format: xlsx\n", "format 'xlsx' is not one of csv, parquet"),
        ("dialect:\n  decimal: ';'\n", "decimal must be '.' or ','"),
        ("colums:\n  zip: id\n", "unknown keys colums"),
        ("columns: {zip: [\n", "is not valid YAML"),
    ],
)
def test_a_bad_schema_file_is_named_with_its_problem(text: str, problem: str) -> None:
    with pytest.raises(BadData, match=f"data.schema.yaml.*{problem}"):
        parse(text, "data.schema.yaml")


def test_a_changed_schema_file_is_a_new_version_of_the_same_bytes(tmp_path: Path) -> None:
    import pandas as pd

    day = pd.DataFrame({"zip": [2111, 10001], "churned": ["yes", "no"]})
    repo = build_folder_registry(tmp_path, {"2026-12-01.csv": day})
    source = FolderSource(repo, "data", cache_dir=tmp_path / "cache")
    before = source.version()
    commit_schema(repo, "data.schema.yaml", "columns:\n  zip: categorical\n")
    declared = source.version()
    commit_schema(repo, "data.schema.yaml", "columns:\n  zip: numeric\n")
    changed = source.version()

    assert before.schema is None
    assert before.md5 == declared.md5 == changed.md5
    assert not declared.same_data(before.as_dict())
    assert not changed.same_data(declared.as_dict())
    assert changed.same_data(source.version().as_dict())
    # Recorded before versions knew their schema file: the same data when there is none.
    assert before.same_data({"md5": before.md5})


def test_a_file_sources_version_follows_the_schema_file_beside_it(tmp_path: Path) -> None:
    data_file = tmp_path / "customers.csv"
    data_file.write_text("zip,churned\n02111,yes\n10001,no\n")
    source = FileSource(data_file, cache_dir=tmp_path / "cache")
    before = source.version()
    (tmp_path / "customers.csv.schema.yaml").write_text("columns:\n  zip: categorical\n")

    assert before.schema is None
    assert not source.version().same_data(before.as_dict())
