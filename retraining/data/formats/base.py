"""What a data format is to the data edge: the suffixes it owns, reading, and checking a file to publish.

A dataset's format is chosen by its file's suffix (`formats.format_for`); a new format is one
module beside `csv.py` and one entry in `formats.FORMATS`.
"""

from __future__ import annotations

from pathlib import Path
from typing import IO, Protocol

import pandas as pd


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
