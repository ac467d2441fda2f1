"""The data's schema file: optional, kept in git beside the data, `<data path>.schema.yaml`
(`data/penguins.csv.schema.yaml`; for a folder or a glob inside it, `data.schema.yaml`).

It declares how the files are written and what each column is:

    format: csv                  # csv or parquet; else the files' suffix says
    dialect:                     # CSV only; what is left out is detected
      separator: ";"
      decimal: ","
      encoding: cp1252
    columns:                     # numeric, categorical, boolean, datetime, text, id, excluded, target
      customer_id: id
      zip: categorical
      notes: excluded

The settings (TARGET_COLUMN, DATA_ID_COLUMN, EXCLUDE_COLUMNS) win over it (ml/kinds.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

import pandas as pd

from ml.kinds import KindError, check_declared
from retraining.data.base import BadData, one_line
from retraining.data.formats import DataFormat, format_for
from retraining.data.formats.csv import CsvFormat, Dialect
from retraining.data.formats.parquet import ParquetFormat

SUFFIX = ".schema.yaml"
_FORMATS = {"csv": CsvFormat, "parquet": ParquetFormat}
# Kinds whose values are read as text, so that a code like "02111" keeps its zero.
_TEXT_KINDS = frozenset({"categorical", "text", "id"})


@dataclass(frozen=True)
class DeclaredSchema:
    format: str | None = None
    dialect: Dialect = field(default_factory=Dialect)
    columns: dict[str, str] = field(default_factory=dict)
    # Where it was read from ("" when there is no schema file).
    label: str = ""

    def format_of(self, path: str) -> DataFormat:
        """The format of a data file as declared, else as its suffix says; CSV in the declared dialect."""
        chosen = _FORMATS[self.format]() if self.format else format_for(path)
        if isinstance(chosen, CsvFormat):
            strings = tuple(name for name, kind in self.columns.items() if kind in _TEXT_KINDS)
            return CsvFormat(self.dialect, strings)
        return chosen

    def as_dict(self) -> dict[str, Any]:
        dialect = {k: v for k, v in vars(self.dialect).items() if v is not None}
        return {"file": self.label, "format": self.format, "dialect": dialect, "columns": self.columns}


def schema_path(path: str) -> str:
    """Where the schema file of a dataset path is: beside the file, or beside the folder of a glob."""
    parts = PurePosixPath(path).parts
    glob = next((i for i, part in enumerate(parts) if any(c in part for c in "*?[")), len(parts))
    return str(PurePosixPath(*parts[:glob])) + SUFFIX


def parse(text: str, label: str) -> DeclaredSchema:
    """The schema file's content, or BadData naming the file and what is wrong in it."""
    from ruamel.yaml import YAML, YAMLError

    try:
        doc = YAML(typ="safe").load(text)
    except YAMLError as exc:
        raise BadData(f"{label} is not valid YAML: {one_line(str(exc))}") from None
    if doc is None:
        return DeclaredSchema(label=label)
    if not isinstance(doc, dict):
        raise BadData(f"{label} must be a mapping with format, dialect and columns")
    unknown = sorted(set(doc) - {"format", "dialect", "columns"})
    if unknown:
        raise BadData(f"{label} has unknown keys {', '.join(map(str, unknown))}; it knows format, dialect, columns")
    data_format = doc.get("format")
    if data_format is not None and str(data_format).lower() not in _FORMATS:
        raise BadData(f"{label}: format {data_format!r} is not one of {', '.join(_FORMATS)}")
    dialect = doc.get("dialect") or {}
    if not isinstance(dialect, dict) or set(dialect) - {"separator", "decimal", "encoding"}:
        raise BadData(f"{label}: dialect must be a mapping of separator, decimal and encoding")
    if dialect.get("decimal") not in (None, ".", ","):
        raise BadData(f"{label}: decimal must be '.' or ',', not {dialect['decimal']!r}")
    separator = dialect.get("separator")
    if separator is not None and (not isinstance(separator, str) or len(separator) != 1):
        raise BadData(f"{label}: separator must be one character, not {separator!r}")
    columns = doc.get("columns") or {}
    if not isinstance(columns, dict):
        raise BadData(f"{label}: columns must map each column's name to its kind")
    try:
        kinds = check_declared(columns, label)
    except KindError as exc:
        raise BadData(str(exc)) from None
    return DeclaredSchema(
        format=str(data_format).lower() if data_format else None,
        dialect=Dialect(separator=separator, decimal=dialect.get("decimal"), encoding=_text(dialect.get("encoding"))),
        columns=kinds,
        label=label,
    )


def with_declared(frame: pd.DataFrame, declared: DeclaredSchema) -> pd.DataFrame:
    """The frame, carrying what its schema file declared (`attrs["declared"]`) beside how it was
    read (`attrs["read_as"]`), for the pipeline to resolve the columns' kinds and record them."""
    frame.attrs["declared"] = declared.as_dict() if declared.label else {}
    return frame


def _text(value: Any) -> str | None:
    return None if value is None else str(value)
