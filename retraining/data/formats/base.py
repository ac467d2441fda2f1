"""What a data format is to the data edge: the suffixes it owns, reading, and checking a file to publish.

A dataset's format is chosen by its file's suffix (`formats.format_for`); a new format is one
module beside `csv.py` and one entry in `formats.FORMATS`.
"""

from __future__ import annotations

from pathlib import Path
from typing import IO, Protocol

import pandas as pd

from retraining.data.base import BadData


class DataFormat(Protocol):
    """Errors are `BadData` (the data is unfit) or `DataError`, their message naming `label`."""

    name: str
    # Lowercase, with the dot: (".csv",).
    suffixes: tuple[str, ...]

    def read(self, source: Path | IO[bytes], label: str) -> pd.DataFrame:
        """The whole dataset, from a file or from a binary stream read once from its start."""
        ...

    def validate(self, path: Path) -> None:
        """Refuse a file before it is published as a version, in little memory whatever its size."""
        ...


def check_names(names: list[str], label: str) -> None:
    """Refuse a header that names a column twice, naming each such column and its positions."""
    seen: dict[str, list[int]] = {}
    for number, name in enumerate(names, start=1):
        seen.setdefault(name, []).append(number)
    twice = {name: numbers for name, numbers in seen.items() if len(numbers) > 1}
    if twice:
        named = "; ".join(f"{name!r} (columns {', '.join(map(str, numbers))})" for name, numbers in twice.items())
        raise BadData(f"{label} has duplicate column names: {named}; every column needs a name of its own")
