"""A CSV file's dialect, declared or detected: its separator, its decimal mark (quoted "45,1"
included) and its encoding. Comma-decimal numbers are read as numbers or refused, never as text."""

import io
from pathlib import Path

import pandas as pd
import pytest

from retraining.data import BadData
from retraining.data.formats.csv import CsvFormat, Dialect

CSV = CsvFormat()


def read(tmp_path: Path, content: bytes, csv: CsvFormat = CSV) -> pd.DataFrame:
    path = tmp_path / "penguins.csv"
    path.write_bytes(content)
    return csv.read(path, str(path))


def test_semicolons_with_comma_decimals_are_read_as_columns_of_numbers(tmp_path: Path) -> None:
    frame = read(tmp_path, b"species;island;bill_length_mm\nAdelie;Biscoe;39,1\nGentoo;Dream;45,25\n")

    assert list(frame.columns) == ["species", "island", "bill_length_mm"]
    assert frame["bill_length_mm"].tolist() == [39.1, 45.25]
    assert frame.attrs["read_as"] == {"format": "CSV", "separator": ";", "decimal": ",", "encoding": "utf-8"}


def test_quoted_comma_decimals_in_a_comma_separated_file_are_numbers(tmp_path: Path) -> None:
    rows = "".join(f'Adelie,"{40 + i},{i % 10}",{i}\n' for i in range(50))
    frame = read(tmp_path, f"species,bill_length_mm,count\n{rows}".encode())

    assert pd.api.types.is_float_dtype(frame["bill_length_mm"])
    assert frame["bill_length_mm"].iloc[:3].tolist() == [40.0, 41.1, 42.2]
    assert pd.api.types.is_integer_dtype(frame["count"])
    assert frame.attrs["read_as"]["decimal"] == ","


def test_tabs_and_pipes_are_separators_too(tmp_path: Path) -> None:
    assert list(read(tmp_path, b"a\tb\n1\t2\n3\t4\n").columns) == ["a", "b"]
    assert read(tmp_path, b"a|b\n1.5|x\n3|y\n")["a"].tolist() == [1.5, 3.0]


def test_a_file_in_a_windows_encoding_is_read_and_its_encoding_named(tmp_path: Path) -> None:
    frame = read(tmp_path, "island,note\nBiscoe,clé\nDream,déjà vu\n".encode("cp1252"))

    assert frame["note"].tolist() == ["clé", "déjà vu"]
    assert frame.attrs["read_as"]["encoding"] == "cp1252"


def test_numbers_with_a_comma_that_could_be_thousands_are_refused_naming_the_column(tmp_path: Path) -> None:
    with pytest.raises(BadData) as refused:
        read(tmp_path, b'species,body_mass_g\nAdelie,"3,750"\nGentoo,"5,200"\n')

    message = str(refused.value)
    assert "'body_mass_g'" in message
    assert "'3,750'" in message
    assert "decimal" in message


def test_a_declared_dialect_is_used_as_declared(tmp_path: Path) -> None:
    declared = CsvFormat(Dialect(separator=";", decimal=",", encoding="latin-1"))

    frame = read(tmp_path, "species;body_mass_g\nAdélie;3,750\nGentoo;5,2\n".encode("latin-1"), declared)

    assert frame["body_mass_g"].tolist() == [3.75, 5.2]
    assert frame["species"].tolist() == ["Adélie", "Gentoo"]
    assert frame.attrs["read_as"] == {"format": "CSV", "separator": ";", "decimal": ",", "encoding": "latin-1"}


def test_a_plain_file_reads_as_before(tmp_path: Path) -> None:
    frame = read(tmp_path, b"a,b,c\n1,2.5,x\n3,4,y\n")

    assert frame.to_dict("list") == {"a": [1, 3], "b": [2.5, 4.0], "c": ["x", "y"]}
    assert frame.attrs["read_as"] == {"format": "CSV", "separator": ",", "decimal": ".", "encoding": "utf-8"}


def test_a_stream_is_detected_and_read_once(tmp_path: Path) -> None:
    frame = CSV.read(io.BytesIO(b"a;b\n1,5;2\n"), "upload")

    assert frame.to_dict("list") == {"a": [1.5], "b": [2]}


def test_publishing_checks_the_file_in_its_detected_dialect(tmp_path: Path) -> None:
    path = tmp_path / "penguins.csv"
    path.write_bytes(b"a;b\n1,5;2\n3;4\n")
    CSV.validate(path)
    path.write_bytes(b"a;b\n1;2\n3;4;5\n")
    with pytest.raises(BadData, match="is not a valid CSV file"):
        CSV.validate(path)


def test_codes_with_leading_zeros_stay_text(tmp_path: Path) -> None:
    frame = read(tmp_path, b"zip,plan_code,fee\n02111,1,9.5\n10001,2,3\n")

    assert frame["zip"].tolist() == ["02111", "10001"]
    assert frame["plan_code"].tolist() == [1, 2]


def test_declared_text_columns_are_read_as_text(tmp_path: Path) -> None:
    frame = read(tmp_path, b"zip,plan_code\n2111,1\n10001,2\n", CsvFormat(strings=("plan_code",)))

    assert frame["plan_code"].tolist() == ["1", "2"]
    assert frame["zip"].tolist() == [2111, 10001]
