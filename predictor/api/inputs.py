"""Turning a request body into the rows the served model expects, or saying exactly what is wrong.

Three body shapes are accepted, so MLflow clients work unchanged: `instances` (a list of objects), MLflow's
`dataframe_split` (columns + data, optional index) and `dataframe_records`. All three go through the same checks
against the model's input schema (its MLflow signature):

- every column of the schema must be sent (a typo would otherwise be served as a missing value); `null` is accepted
  only in the columns the signature marks optional;
- a field the schema does not know is rejected, in all three shapes alike: a misspelt column name is caught instead
  of being silently dropped;
- numbers must be finite JSON numbers (integral for integer columns), strings JSON strings;
- a category the model never saw is accepted and handled as the model handles it (the pipeline's encoder ignores
  it); the response lists it under `warnings`.

Checks run per column on whole arrays, so a 1,000-row batch costs about as much as one row; the per-row walk that
names each bad row only runs once a column is known to be bad.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ml.contract import INTEGER_TYPES, NUMERIC_TYPES
from ml.kinds import date_parts, part_names

FORMATS = ("instances", "dataframe_split", "dataframe_records")
# How many bad rows are named before the list is cut short: enough to fix a request, small enough that a
# 10,000-row mistake does not produce a megabyte of errors.
MAX_ERRORS = 50


class InvalidInput(Exception):
    """The body cannot be served; `errors` names each bad row and field."""

    def __init__(self, message: str, errors: list[dict[str, Any]] | None = None, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.errors = errors or []
        self.status = status

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": self.message}
        if self.errors:
            body["errors"] = self.errors
        return body


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    required: bool


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


def _error(row: int | None, field: str | None, message: str) -> dict[str, Any]:
    return {"row": row, "field": field, "message": message}


def rows_of(
    body: Any, columns: list[Column], max_rows: int, ignored: frozenset[str] = frozenset()
) -> tuple[list[str], list[list[Any]]]:
    """(column names as sent, rows as lists in that order) from any of the three shapes; the `ignored` columns
    (not model inputs, sent with a whole record) are left out."""
    if not isinstance(body, dict):
        raise InvalidInput(f"the body must be a JSON object with one of the keys {', '.join(FORMATS)}")
    given = [key for key in FORMATS if key in body]
    extra = sorted(set(body) - set(FORMATS))
    if len(given) != 1 or extra:
        unknown = f"; unknown key(s): {', '.join(extra)}" if extra else ""
        raise InvalidInput(f"the body must have exactly one of the keys {', '.join(FORMATS)}{unknown}")
    shape = given[0]
    payload = body[shape]
    if shape == "dataframe_split":
        names, data = _split(payload, max_rows)
        if ignored & set(names):
            kept = [i for i, name in enumerate(names) if name not in ignored]
            return [names[i] for i in kept], [[row[i] for i in kept] for row in data]
        return names, data
    return _records(shape, payload, columns, max_rows, ignored)


def sent_rows(body: Any) -> int:
    """How many rows a body says it carries, before anything is checked (0 for a shape `check` refuses): a key's
    row limit refuses a large request without the cost of checking it."""
    payload = next((body[key] for key in FORMATS if key in body), None) if isinstance(body, dict) else None
    if isinstance(payload, dict):
        payload = payload.get("data")
    return len(payload) if isinstance(payload, list) else 0


def _check_count(count: int, max_rows: int) -> None:
    if count == 0:
        raise InvalidInput("the batch is empty: send at least one row")
    if count > max_rows:
        raise InvalidInput(f"{count} rows is more than the limit of {max_rows} per request", status=413)


def _split(payload: Any, max_rows: int) -> tuple[list[str], list[list[Any]]]:
    if not isinstance(payload, dict):
        raise InvalidInput("'dataframe_split' must be an object with 'columns' and 'data'")
    unknown = sorted(set(payload) - {"columns", "data", "index"})
    if unknown:
        raise InvalidInput(f"'dataframe_split' has unknown key(s): {', '.join(unknown)}")
    names, data = payload.get("columns"), payload.get("data")
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise InvalidInput("'dataframe_split.columns' must be a list of column names")
    if len(set(names)) != len(names):
        raise InvalidInput("'dataframe_split.columns' names a column more than once")
    if not isinstance(data, list):
        raise InvalidInput("'dataframe_split.data' must be a list of rows")
    _check_count(len(data), max_rows)
    index = payload.get("index")
    if index is not None and (not isinstance(index, list) or len(index) != len(data)):
        raise InvalidInput("'dataframe_split.index' must be a list with one entry per row")
    width = len(names)
    bad = [i for i, row in enumerate(data) if not isinstance(row, list) or len(row) != width]
    if bad:
        raise InvalidInput(
            "every row of 'dataframe_split.data' must be a list of one value per column",
            [_error(i, None, f"expected a list of {width} values") for i in bad[:MAX_ERRORS]],
        )
    return names, data


def _records(
    shape: str, payload: Any, columns: list[Column], max_rows: int, ignored: frozenset[str] = frozenset()
) -> tuple[list[str], list[list[Any]]]:
    if not isinstance(payload, list):
        raise InvalidInput(f"'{shape}' must be a list of objects, one per row")
    _check_count(len(payload), max_rows)
    expected = {c.name for c in columns}
    bad = [i for i, row in enumerate(payload) if not isinstance(row, dict) or row.keys() - ignored != expected]
    if bad:
        errors: list[dict[str, Any]] = []
        for i in bad[:MAX_ERRORS]:
            row = payload[i]
            if not isinstance(row, dict):
                errors.append(_error(i, None, "a row must be an object of column: value"))
                continue
            errors += [_error(i, name, "this column is missing") for name in sorted(expected - row.keys())]
            errors += [_error(i, name, "unknown field") for name in sorted(set(row) - expected - ignored)]
        raise InvalidInput("some rows do not match the model's input schema", errors)
    names = [c.name for c in columns]
    return names, [[row[name] for name in names] for row in payload]


def check(
    body: Any,
    columns: list[Column],
    categories: dict[str, set[str]],
    max_rows: int,
    ignored: frozenset[str] = frozenset(),
    dates: dict[str, bool] | None = None,
) -> Checked:
    """The rows as arrays in the schema's column order and types, or InvalidInput. Columns in `ignored` (ids,
    exclusions: not model inputs) may be sent with a whole record; they are dropped. Each column of `dates` is sent
    as a date (ISO 8601) and read as the parts the model has."""
    model_columns = [c.name for c in columns]
    dates = dates or {}
    columns = as_sent(columns, dates)
    names, data = rows_of(body, columns, max_rows, ignored)
    expected = [c.name for c in columns]
    if set(names) != set(expected):
        errors = [_error(None, n, "this column is missing") for n in expected if n not in names]
        errors += [_error(None, n, "unknown field") for n in names if n not in expected]
        raise InvalidInput("the columns do not match the model's input schema", errors)
    # Transposed in plain Python: no pandas frame per request unless the model needs one.
    by_name = dict(zip(names, zip(*data, strict=True), strict=True))
    errors = []
    out: dict[str, np.ndarray] = {}
    warnings: list[str] = []
    for column in columns:
        raw = by_name[column.name]
        converted = _complete(column, raw)
        column_errors = []
        if converted is None:
            converted, column_errors = _convert(column, np.fromiter(raw, dtype=object, count=len(raw)))
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
            [_error(int(i), name, f"must be a date (ISO 8601), got {_shown(values[i])}") for i in bad[:MAX_ERRORS]],
        )
    return {
        f"{name}_{part}": series.to_numpy(dtype=np.float64, na_value=np.nan)
        for part, series in date_parts(column, timed).items()
    }


def _complete(column: Column, raw: tuple[Any, ...]) -> np.ndarray | None:
    """The column converted, when it has no gap and nothing to object to (the usual request); None sends it
    through the full check, which names every bad row. The usual request thus costs one set of types and one
    conversion per column, not the dozen array passes that naming bad rows needs (docs/benchmarks.md)."""
    kinds = set(map(type, raw))
    if column.type in NUMERIC_TYPES and kinds <= {int, float}:
        try:
            converted = np.array(raw, dtype=np.float64)
        except OverflowError:
            return None
        if not np.isfinite(converted).all():
            return None
        if column.type in INTEGER_TYPES and not (np.mod(converted, 1) == 0).all():
            return None
        return converted
    if column.type == "string" and kinds == {str}:
        return np.array(raw, dtype=object)
    return None


def _convert(column: Column, values: np.ndarray) -> tuple[np.ndarray, list[dict[str, Any]]]:
    missing = pd.isna(values)
    if column.type in NUMERIC_TYPES:
        return _numbers(column, values, missing)
    if column.type == "string":
        ok = _of_types(values, (str,)) | missing
        converted = np.where(missing, None, values)
        problem = "must be a string"
    elif column.type == "boolean":
        ok = _of_types(values, (bool,)) | missing
        converted = np.where(missing, None, values)
        problem = "must be true or false"
    else:
        ok = np.ones(len(values), bool)
        converted = values
        problem = ""
    return converted, _errors(column, values, ok, missing, problem)


def _numbers(column: Column, values: np.ndarray, missing: np.ndarray) -> tuple[np.ndarray, list[dict[str, Any]]]:
    ok = _of_types(values, (int, float)) | missing
    converted = np.full(len(values), np.nan)
    if ok.all():
        try:
            converted = values.astype(float)
        except OverflowError:
            ok = _finite_mask(values, missing)
        else:
            ok = np.isfinite(converted) | missing
            if column.type in INTEGER_TYPES:
                ok &= (np.mod(np.where(missing, 0.0, converted), 1) == 0) | missing
    kind = "a whole number" if column.type in INTEGER_TYPES else "a finite number"
    return converted, _errors(column, values, ok, missing, f"must be {kind}")


def _of_types(values: np.ndarray, allowed: tuple[type, ...]) -> np.ndarray:
    """Which values are exactly of the allowed JSON types (so True is not a number); None is judged by the
    caller. The set of the column's types is one pass in C; the per-value walk in Python, which dominates a large
    batch, runs only for a column that holds a stray type."""
    if set(map(type, values)) <= {*allowed, type(None)}:
        return np.ones(len(values), bool)
    return np.fromiter((type(v) in allowed for v in values), bool, len(values))


def _finite_mask(values: np.ndarray, missing: np.ndarray) -> np.ndarray:
    """Only reached for integers too large for a float: walk the column to name them."""
    mask = np.zeros(len(values), bool)
    for i, value in enumerate(values):
        try:
            mask[i] = bool(missing[i]) or math.isfinite(float(value))
        except OverflowError:
            mask[i] = False
    return mask


def _errors(
    column: Column, values: np.ndarray, ok: np.ndarray, missing: np.ndarray, problem: str
) -> list[dict[str, Any]]:
    errors = []
    if column.required and missing.any():
        errors += [
            _error(int(i), column.name, "this column is required: null is not allowed")
            for i in np.flatnonzero(missing)[:MAX_ERRORS]
        ]
    if not ok.all():
        errors += [
            _error(int(i), column.name, f"{problem}, got {_shown(values[i])}") for i in np.flatnonzero(~ok)[:MAX_ERRORS]
        ]
    return errors


def _shown(value: Any) -> str:
    text = repr(value) if not isinstance(value, str) else f'"{value}"'
    return text if len(text) <= 40 else text[:37] + "..."


def schema_of(columns: list[dict[str, Any]]) -> list[Column]:
    """Columns from the signature as registry.load_version gives them."""
    return [Column(str(c["name"]), str(c["type"]), bool(c.get("required", True))) for c in columns]
