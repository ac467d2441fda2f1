"""A dataset file's format is chosen by its suffix, and an unknown suffix is named with the ones that work."""

from pathlib import PurePosixPath

import pytest

from retraining.data import DataError, DvcRegistrySource, FileSource
from retraining.data.formats import find_format, format_for
from retraining.data.formats.csv import CsvFormat


@pytest.mark.parametrize("path", ["data/penguins.csv", "DATA/PENGUINS.CSV", PurePosixPath("a.b/penguins.csv")])
def test_a_csv_file_is_read_as_csv(path):
    assert isinstance(format_for(path), CsvFormat)


def test_an_unknown_suffix_is_refused_naming_it_and_the_supported_ones():
    with pytest.raises(DataError) as refused:
        format_for("data/penguins.xlsx")

    assert str(refused.value) == (
        "data/penguins.xlsx: no data format reads '.xlsx' files; the supported suffixes are .csv, .parquet, .pq"
    )


def test_a_file_without_a_suffix_is_refused_too():
    with pytest.raises(DataError, match="data/penguins: no data format reads files without a suffix"):
        format_for("data/penguins")


def test_finding_a_format_is_none_for_an_unknown_suffix():
    assert find_format("var/data-registry") is None
    assert isinstance(find_format("penguins.csv"), CsvFormat)


def test_a_source_refuses_an_unknown_format_when_it_is_made_not_when_it_reads(tmp_path):
    with pytest.raises(DataError, match=r"'\.json' files"):
        DvcRegistrySource(tmp_path / "registry", "data/penguins.json")
    with pytest.raises(DataError, match=r"'\.txt' files"):
        FileSource(tmp_path / "penguins.txt")
