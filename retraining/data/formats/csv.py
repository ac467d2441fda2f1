"""CSV in a declared or detected dialect (separator, decimal mark, encoding), with a header that
must name every column once.

Detection reads the start of the file: the encoding is UTF-8 if that start decodes as UTF-8, else
Windows-1252 (else Latin-1, which decodes any byte); the separator is the one of `,;<tab>|` that
splits the first lines into the same number of fields, most of them. The decimal mark is a
semicolon file's comma by convention, and in any file a column whose every value is a number
written with a comma ("45,1", quoted in a comma-separated file) is read as a number. A comma
followed by exactly three digits in every value could be a thousands separator as well: that
column is refused, naming it, until the decimal mark is declared.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import pandas as pd

from retraining.data.base import BadData, DataError, one_line
from retraining.data.formats.base import check_names

_CHUNK_ROWS = 200_000
_SAMPLE_BYTES = 1 << 16
_SAMPLE_LINES = 50
_SEPARATORS = (",", ";", "\t", "|")
_COMMA_NUMBER = r"\s*[-+]?\d*,\d+\s*"
_THOUSANDS_LIKE = r"\s*[-+]?\d{1,3},\d{3}\s*"


@dataclass(frozen=True)
class Dialect:
    """How a CSV file is written; a field left None is detected from the file."""

    separator: str | None = None
    decimal: str | None = None
    encoding: str | None = None


class CsvFormat:
    name = "CSV"
    suffixes = (".csv",)

    def __init__(self, dialect: Dialect | None = None, strings: tuple[str, ...] = ()) -> None:
        self.dialect = dialect or Dialect()
        # Columns read as text whatever they hold (declared categorical, text or id).
        self.strings = strings

    def read(self, source: Path | IO[bytes], label: str) -> pd.DataFrame:
        with _csv_errors(label):
            dialect = self._dialect(source, label)
            header = _check_header(source, label, dialect)
            strings = [name for name in header if name in self.strings or name in _leading_zeros(source, dialect)]
            frame = pd.read_csv(
                source,
                sep=dialect.separator,
                decimal=dialect.decimal or ".",
                encoding=dialect.encoding,
                dtype=dict.fromkeys(strings, "str") or None,
            )
        if len(frame) == 0:
            raise BadData(f"{label} has a header but no rows")
        decimal = dialect.decimal or _comma_decimals(frame, label)
        frame.attrs["read_as"] = {
            "format": self.name,
            "separator": dialect.separator,
            "decimal": decimal,
            "encoding": dialect.encoding,
        }
        return frame

    def validate(self, path: Path) -> None:
        """Parses the whole file in chunks, so publishing a large file needs little memory."""
        if not path.is_file():
            raise DataError(f"{path} does not exist or is not a file")
        rows = 0
        label = str(path)
        with _csv_errors(label):
            dialect = self._dialect(path, label)
            _check_header(path, label, dialect)
        options = {"sep": dialect.separator, "decimal": dialect.decimal or ".", "encoding": dialect.encoding}
        with _csv_errors(label), pd.read_csv(path, chunksize=_CHUNK_ROWS, **options) as chunks:
            for chunk in chunks:
                rows += len(chunk)
        if rows == 0:
            raise BadData(f"{path} has a header but no rows")

    def _dialect(self, source: Path | IO[bytes], label: str) -> Dialect:
        """The declared dialect, its gaps detected from the start of the file."""
        declared = self.dialect
        if declared.separator and declared.decimal and declared.encoding:
            return declared
        sample = _sample(source)
        if b"\x00" in sample:
            raise BadData(f"{label} is not a valid CSV file: it holds NUL bytes, as binary files (Parquet, Excel) do")
        encoding = declared.encoding or _encoding(sample)
        try:
            text = codecs.getincrementaldecoder(encoding)().decode(sample, final=False)
        except (LookupError, UnicodeDecodeError) as exc:
            raise BadData(f"{label} cannot be read as {encoding}: {one_line(str(exc))}") from None
        if len(sample) == _SAMPLE_BYTES:
            text = text[: text.rfind("\n") + 1] or text  # the last line may be cut short
        separator = declared.separator or _separator(text)
        decimal = declared.decimal or ("," if separator == ";" else None)
        return Dialect(separator=separator, decimal=decimal, encoding=encoding)


def _sample(source: Path | IO[bytes]) -> bytes:
    if isinstance(source, Path):
        with source.open("rb") as handle:
            return handle.read(_SAMPLE_BYTES)
    start = source.tell()
    sample = source.read(_SAMPLE_BYTES)
    source.seek(start)
    return sample


def _encoding(sample: bytes) -> str:
    for encoding in ("utf-8", "cp1252"):
        try:
            codecs.getincrementaldecoder(encoding)().decode(sample, final=False)
        except UnicodeDecodeError:
            continue
        return encoding
    return "latin-1"


def _separator(text: str) -> str:
    """The separator that splits the first lines into the same number of fields, the most fields;
    if none is consistent, the one that splits the header most (pandas then names the bad line)."""
    lines = text.lstrip("\ufeff").splitlines(keepends=True)[:_SAMPLE_LINES]
    header_fields: dict[str, int] = {}
    consistent: dict[str, int] = {}
    for separator in _SEPARATORS:
        try:
            rows = [row for row in csv.reader(io.StringIO("".join(lines)), delimiter=separator) if row]
        except csv.Error:
            continue
        if not rows:
            continue
        header_fields[separator] = len(rows[0])
        counts = {len(row) for row in rows}
        if len(counts) == 1 and len(rows[0]) > 1:
            consistent[separator] = len(rows[0])
    chosen = consistent or header_fields
    if not chosen or max(chosen.values()) <= 1:
        return ","
    return max(chosen, key=lambda separator: chosen[separator])


def _comma_decimals(frame: pd.DataFrame, label: str) -> str:
    """Reads the text columns whose every value is a number written with a decimal comma as numbers,
    in place; "," if there was one, else "."."""
    found = False
    for name in frame.columns:
        column = frame[name]
        if pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
            continue
        if not pd.api.types.is_string_dtype(column):
            continue
        # The first values decide whether the whole column is worth looking at: most text is not numbers.
        head = column.iloc[:1000].dropna().astype(str)
        if head.empty or not head.str.fullmatch(_COMMA_NUMBER).all():
            continue
        text = column.dropna().astype(str)
        if not text.str.fullmatch(_COMMA_NUMBER).all():
            continue
        if text.str.fullmatch(_THOUSANDS_LIKE).all():
            raise BadData(
                f"{label}: column {name!r} holds numbers written with a comma and three digits after it "
                f"({text.iloc[0]!r}): the comma could be a decimal mark or a thousands separator; "
                "declare the decimal mark in the data's schema file (decimal: ',' or '.')"
            )
        frame[name] = pd.to_numeric(column.str.replace(",", ".", regex=False))
        found = True
    return "," if found else "."


def _leading_zeros(source: Path | IO[bytes], dialect: Dialect) -> set[str]:
    """The columns whose first values include a code of digits with a leading zero ("02111"): read
    as text, since as numbers they would lose the zero and a client's "02134" would be refused."""
    sample = _sample(source)
    text = codecs.getincrementaldecoder(dialect.encoding or "utf-8")(errors="replace").decode(sample, final=False)
    lines = text.lstrip("\ufeff").splitlines(keepends=True)
    if len(sample) == _SAMPLE_BYTES:
        lines = lines[:-1]
    rows = [row for row in csv.reader(io.StringIO("".join(lines)), delimiter=dialect.separator or ",") if row]
    if not rows:
        return set()
    found = set()
    for row in rows[1:]:
        for name, value in zip(rows[0], row, strict=False):
            if len(value) > 1 and value[0] == "0" and value.isdigit():
                found.add(name)
    return found


def _check_header(source: Path | IO[bytes], label: str, dialect: Dialect) -> list[str]:
    """Refuse a header that names a column twice.

    pandas would quietly rename the second `island` to `island.1`, and a model would be trained
    with an input nobody has; so the header row is read here, as written, before pandas sees it.
    A seekable stream is left where it was.
    """
    if isinstance(source, Path):
        with source.open("rb") as handle:
            header = _first_record(handle, dialect)
    else:
        start = source.tell()
        header = _first_record(source, dialect)
        source.seek(start)
    check_names(header, label)
    return header


def _first_record(handle: IO[bytes], dialect: Dialect) -> list[str]:
    """The header as pandas reads it in this dialect (a quoted name may hold a separator or a newline)."""
    encoding = "utf-8-sig" if dialect.encoding in (None, "utf-8") else dialect.encoding
    text = io.TextIOWrapper(handle, encoding=encoding, newline="")
    try:
        # pandas skips blank lines before the header.
        return next((row for row in csv.reader(text, delimiter=dialect.separator or ",") if row), [])
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
