"""The shapes a prediction body comes in, read into the columns as sent, before any value is checked.

Three JSON shapes are accepted, so MLflow clients work unchanged: `instances` (a list of objects), MLflow's
`dataframe_split` (columns + data, optional index) and `dataframe_records`. A field the schema does not know is
rejected in all three alike: a misspelt column name is caught instead of being silently dropped.

A protocol whose body is already in columns (V2's inputs, MLflow's `inputs` as columns) hands over `Columns`
instead: read as the same rows in `dataframe_split` would be, with the same limits and words, but never turned
into rows and back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from predictor.api.input_values import MAX_ERRORS, Column, InvalidInput, error

FORMATS = ("instances", "dataframe_split", "dataframe_records")


@dataclass(frozen=True)
class Columns:
    """A body in columns: each column's name and its values, one per row, in the order sent."""

    values: dict[str, Sequence[Any]]


def columns_of(
    body: Any, columns: list[Column], max_rows: int, ignored: frozenset[str] = frozenset()
) -> dict[str, Sequence[Any]]:
    """Each column's values by its name as sent, in the order sent, from `Columns` or any of the three shapes;
    the `ignored` columns (not model inputs, sent with a whole record) are left out."""
    if isinstance(body, Columns):
        return _columns(body.values, max_rows, ignored)
    names, data = rows_of(body, columns, max_rows, ignored)
    # Transposed in plain Python: no pandas frame per request unless the model needs one.
    return dict(zip(names, zip(*data, strict=True), strict=True))


def _columns(values: dict[str, Sequence[Any]], max_rows: int, ignored: frozenset[str]) -> dict[str, Sequence[Any]]:
    lengths = {len(column) for column in values.values()}
    if len(lengths) > 1:
        shown = ", ".join(f"{name}: {len(column)}" for name, column in values.items())
        raise InvalidInput(f"every column must have the same number of values, got {shown}")
    _check_count(lengths.pop() if lengths else 0, max_rows)
    if ignored & values.keys():
        return {name: column for name, column in values.items() if name not in ignored}
    return values


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
    if isinstance(body, Columns):
        return len(next(iter(body.values.values()), ()))
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
            [error(i, None, f"expected a list of {width} values") for i in bad[:MAX_ERRORS]],
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
                errors.append(error(i, None, "a row must be an object of column: value"))
                continue
            errors += [error(i, name, "this column is missing") for name in sorted(expected - row.keys())]
            errors += [error(i, name, "unknown field") for name in sorted(set(row) - expected - ignored)]
        raise InvalidInput("some rows do not match the model's input schema", errors)
    names = [c.name for c in columns]
    return names, [[row[name] for name in names] for row in payload]
