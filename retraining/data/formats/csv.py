"""CSV, as pandas reads it by default, with a header that must name every column once."""

from __future__ import annotations

import contextlib
import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pandas as pd

from retraining.data.base import BadData, DataError, one_line

_CHUNK_ROWS = 200_000


class CsvFormat:
    name = "CSV"
    suffixes = (".csv",)

    def read(self, source: Path | IO[bytes], label: str) -> pd.DataFrame:
        with _csv_errors(label):
            _check_header(source, label)
            frame = pd.read_csv(source)
        if len(frame) == 0:
            raise BadData(f"{label} has a header but no rows")
        return frame

    def validate(self, path: Path) -> None:
        """Parses the whole file in chunks, so publishing a large file needs little memory."""
        if not path.is_file():
            raise DataError(f"{path} does not exist or is not a file")
        rows = 0
        with _csv_errors(str(path)):
            _check_header(path, str(path))
        with _csv_errors(str(path)), pd.read_csv(path, chunksize=_CHUNK_ROWS) as chunks:
            for chunk in chunks:
                rows += len(chunk)
        if rows == 0:
            raise BadData(f"{path} has a header but no rows")


def _check_header(source: Path | IO[bytes], label: str) -> None:
    """Refuse a header that names a column twice.

    pandas would quietly rename the second `island` to `island.1`, and a model would be trained
    with an input nobody has; so the header row is read here, as written, before pandas sees it.
    A seekable stream is left where it was.
    """
    if isinstance(source, Path):
        with source.open("rb") as handle:
            header = _first_record(handle)
    else:
        start = source.tell()
        header = _first_record(source)
        source.seek(start)
    seen: dict[str, list[int]] = {}
    for number, name in enumerate(header, start=1):
        seen.setdefault(name, []).append(number)
    twice = {name: numbers for name, numbers in seen.items() if len(numbers) > 1}
    if twice:
        named = "; ".join(f"{name!r} (columns {', '.join(map(str, numbers))})" for name, numbers in twice.items())
        raise BadData(f"{label} has duplicate column names: {named}; every column needs a name of its own")


def _first_record(handle: IO[bytes]) -> list[str]:
    """The header as pandas' default dialect reads it (a quoted name may hold a comma or a newline)."""
    text = io.TextIOWrapper(handle, encoding="utf-8-sig", newline="")
    try:
        # pandas skips blank lines before the header.
        return next((row for row in csv.reader(text) if row), [])
    finally:
        text.detach()


@contextlib.contextmanager
def _csv_errors(label: str) -> Iterator[None]:
    try:
        yield
    except pd.errors.EmptyDataError:
        raise BadData(f"{label} is empty: a CSV needs a header and at least one row") from None
    except (pd.errors.ParserError, csv.Error, UnicodeDecodeError, ValueError) as exc:
        raise BadData(f"{label} is not a valid CSV file: {one_line(str(exc))}") from None
