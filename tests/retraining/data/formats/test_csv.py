"""CSV as pandas reads it, with a header that names every column once."""

import io
from pathlib import Path

import pytest

from retraining.data import BadData
from retraining.data.formats.csv import CsvFormat

CSV = CsvFormat()


def test_a_header_that_names_a_column_twice_is_refused_before_pandas_renames_it(tmp_path: Path) -> None:
    csv_file = tmp_path / "penguins.csv"
    csv_file.write_text('island,"bill, mm",island,sex,sex\nBiscoe,40.1,Dream,male,female\n')

    with pytest.raises(BadData) as refused:
        CSV.read(csv_file, str(csv_file))

    assert str(refused.value) == (
        f"{csv_file} has duplicate column names: 'island' (columns 1, 3); 'sex' (columns 4, 5); "
        "every column needs a name of its own"
    )


def test_a_stream_is_read_from_where_it_is_after_its_header_is_checked() -> None:
    stream = io.BytesIO(b"a,b\n1,2\n3,4\n")

    frame = CSV.read(stream, "upload")

    assert frame.to_dict("list") == {"a": [1, 3], "b": [2, 4]}
