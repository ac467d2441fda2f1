"""What every part of the data edge shares: its errors, a dataset version, and reading a CSV."""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import hashlib
import io
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO

import pandas as pd

CHUNK = 1 << 20
_CSV_CHUNK_ROWS = 200_000


class DataError(Exception):
    """A dataset could not be checked, fetched, read or published; the message names why."""


class BadData(DataError):
    """The data itself is unfit to read (not a CSV, no rows, a column named twice): reject it."""


class DataUnavailable(DataError):
    """The registry or its DVC remote did not answer: worth trying again later, unlike bad data."""


@dataclass(frozen=True)
class DatasetVersion:
    source: str
    path: str
    rev: str
    md5: str
    size: int

    def as_dict(self) -> dict[str, str | int]:
        return dataclasses.asdict(self)


def read_csv(source: Path | IO[bytes], label: str) -> pd.DataFrame:
    with _csv_errors(label):
        check_header(source, label)
        frame = pd.read_csv(source)
    if len(frame) == 0:
        raise BadData(f"{label} has a header but no rows")
    return frame


def validate_csv(csv_file: Path) -> None:
    """Parses the whole file in chunks, so publishing a large file needs little memory."""
    if not csv_file.is_file():
        raise DataError(f"{csv_file} does not exist or is not a file")
    rows = 0
    with _csv_errors(str(csv_file)):
        check_header(csv_file, str(csv_file))
    with _csv_errors(str(csv_file)), pd.read_csv(csv_file, chunksize=_CSV_CHUNK_ROWS) as chunks:
        for chunk in chunks:
            rows += len(chunk)
    if rows == 0:
        raise BadData(f"{csv_file} has a header but no rows")


def check_header(source: Path | IO[bytes], label: str) -> None:
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


def check_tracked_path(path: str) -> str:
    pure = PurePosixPath(path)
    if not path or pure.is_absolute() or ".." in pure.parts or str(pure) == ".":
        raise DataError(f"dataset path {path!r} must be a file path relative to the registry root")
    return str(pure)


def default_cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "retraining-data"


def file_md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def write_atomic(target: Path, content: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, part = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
        os.replace(part, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(part)


def one_line(text: str) -> str:
    """The line of a tool's output that says what went wrong, without the tool's prefix."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return "no details given"
    flagged = [line for line in lines if re.match(r"(ERROR|error|fatal):", line)]
    return re.sub(r"^(ERROR|error|fatal):\s*", "", flagged[0] if flagged else lines[0])
