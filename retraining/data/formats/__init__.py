"""Data formats: how a dataset file is read, chosen by its suffix (as `django.core.files.storage` is
one package of storages): `base` says what a format is, one module per format implements it."""

from __future__ import annotations

from pathlib import PurePath

from retraining.data.base import DataError
from retraining.data.formats.base import DataFormat
from retraining.data.formats.csv import CsvFormat
from retraining.data.formats.parquet import ParquetFormat

FORMATS: tuple[DataFormat, ...] = (CsvFormat(), ParquetFormat())

__all__ = ["FORMATS", "DataFormat", "find_format", "format_for"]


def find_format(path: str | PurePath) -> DataFormat | None:
    suffix = PurePath(path).suffix.lower()
    return next((format for format in FORMATS if suffix in format.suffixes), None)


def format_for(path: str | PurePath) -> DataFormat:
    found = find_format(path)
    if found is None:
        suffix = PurePath(path).suffix
        files = f"{suffix!r} files" if suffix else "files without a suffix"
        supported = ", ".join(suffix for format in FORMATS for suffix in format.suffixes)
        raise DataError(f"{path}: no data format reads {files}; the supported suffixes are {supported}")
    return found
