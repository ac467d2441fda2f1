"""Turning a request body into the rows the served model expects, or saying exactly what is wrong.

The body comes in one of the shapes of predictor/api/input_shapes.py: rows in one of three JSON shapes, or
columns. All of them go through the same checks against the model's input schema (its MLflow signature), column
by column, so a refusal names the same rows and fields whatever the shape:

- every column of the schema must be sent (a typo would otherwise be served as a missing value); `null` is accepted
  only in the columns the signature marks optional;
- a field the schema does not know is rejected, in every shape alike: a misspelt column name is caught instead of
  being silently dropped; the columns that are not model inputs (ids, exclusions) may be sent with a whole record
  and are dropped;
- each column's values are checked against its type (predictor/api/input_values.py);
- a category the model never saw is accepted and handled as the model handles it (the pipeline's encoder ignores
  it); the response lists it under `warnings`;
- a date column is sent as a date (ISO 8601) and read as the parts the model has.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ml.kinds import date_parts, part_names
from predictor.api.input_shapes import FORMATS, Columns, columns_of, sent_rows
from predictor.api.input_values import MAX_ERRORS, Column, InvalidInput, convert, error, shown

__all__ = [
    "FORMATS",
    "MAX_ERRORS",
    "Checked",
    "Column",
    "Columns",
    "InvalidInput",
    "as_sent",
    "check",
    "frame_of",
    "schema_of",
    "sent_rows",
]


@dataclass(frozen=True)
class Checked:
    """The rows as one array per column, in the schema's order: float64 for numbers, objects (str, bool or None)
    otherwise. The DataFrame is only built for a model served as it is."""

    columns: dict[str, np.ndarray]
    warnings: list[str]

    @property
    def frame(self) -> pd.DataFrame:
        return frame_of(self.columns)


def frame_of(columns: dict[str, np.ndarray]) -> pd.DataFrame:
    """Columns as a DataFrame the way training prepared them: text columns stay object arrays with None for a
    missing value (pandas would otherwise turn them into its string dtype, with NaN, which the pipeline's imputer
    treats differently from the None it was trained on)."""
    return pd.DataFrame(
        {name: pd.Series(data, dtype=object) if data.dtype == object else data for name, data in columns.items()}
    )


def check(
    body: Any,
    columns: list[Column],
    categories: dict[str, set[str]],
    max_rows: int,
    ignored: frozenset[str] = frozenset(),
    dates: dict[str, bool] | None = None,
) -> Checked:
    """The rows (or `Columns`) as arrays in the schema's column order and types, or InvalidInput. Columns in
    `ignored` (ids, exclusions: not model inputs) may be sent with a whole record; they are dropped. Each column of
    `dates` is sent as a date (ISO 8601) and read as the parts the model has."""
    model_columns = [c.name for c in columns]
    dates = dates or {}
    columns = as_sent(columns, dates)
    by_name = columns_of(body, columns, max_rows, ignored)
    expected = [c.name for c in columns]
    if by_name.keys() != set(expected):
        errors = [error(None, n, "this column is missing") for n in expected if n not in by_name]
        errors += [error(None, n, "unknown field") for n in by_name if n not in expected]
        raise InvalidInput("the columns do not match the model's input schema", errors)
    errors = []
    out: dict[str, np.ndarray] = {}
    warnings: list[str] = []
    for column in columns:
        converted, column_errors = convert(column, by_name[column.name])
        errors += column_errors
        out[column.name] = converted
        known = categories.get(column.name)
        if known and not column_errors:
            # Compared as text, as known_categories lists them: a boolean True is the category "True".
            unseen = sorted({str(v) for v in converted.tolist() if v is not None} - known)
            if unseen:
                warnings.append(
                    f"{column.name}: {', '.join(unseen)} not seen in training; the model treats it as no known category"
                )
    if errors:
        errors.sort(key=lambda e: (e["row"], e["field"]))
        raise InvalidInput("some values do not match the model's input schema", errors[:MAX_ERRORS])
    for name, timed in dates.items():
        out |= _date_parts(name, timed, out.pop(name))
    return Checked({name: out[name] for name in model_columns}, warnings)


def as_sent(columns: list[Column], dates: dict[str, bool]) -> list[Column]:
    """The columns as a client sends them: each datetime column once, as text, in place of its parts."""
    parts = {part: name for name, timed in dates.items() for part in part_names(name, timed)}
    sent: list[Column] = []
    for column in columns:
        if column.name not in parts:
            sent.append(column)
        elif all(c.name != parts[column.name] for c in sent):
            # A missing date is a gap in each part, as training read it.
            sent.append(Column(parts[column.name], "string", False))
    return sent


def _date_parts(name: str, timed: bool, values: np.ndarray) -> dict[str, np.ndarray]:
    """The parts of sent dates as training computed them; a value that is no date is an error."""
    column = pd.Series(values, dtype=object)
    parsed = pd.to_datetime(column, errors="coerce", format="ISO8601", utc=True)
    bad = np.flatnonzero(parsed.isna().to_numpy() & column.notna().to_numpy())
    if len(bad):
        raise InvalidInput(
            "some values do not match the model's input schema",
            [error(int(i), name, f"must be a date (ISO 8601), got {shown(values[i])}") for i in bad[:MAX_ERRORS]],
        )
    return {
        f"{name}_{part}": series.to_numpy(dtype=np.float64, na_value=np.nan)
        for part, series in date_parts(column, timed).items()
    }


def schema_of(columns: list[dict[str, Any]]) -> list[Column]:
    """Columns from the signature as registry.load_version gives them."""
    return [Column(str(c["name"]), str(c["type"]), bool(c.get("required", True))) for c in columns]
