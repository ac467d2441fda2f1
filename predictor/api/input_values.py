"""One column's values against its type in the model's input schema: the array the model reads, or each bad
row named.

- numbers must be finite JSON numbers (integral for integer columns), strings JSON strings, booleans true or
  false; `null` is accepted only in the columns the signature marks optional (a NaN, as MLflow's clients write a
  gap, is a null);
- an error names its row and field, at most MAX_ERRORS of them.

Checks run on whole arrays, so a 1,000-row batch costs about as much as one row; the per-row walk that names each
bad row only runs once a column is known to be bad.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ml.contract import INTEGER_TYPES, NUMERIC_TYPES
from predictor.refusal import BadRequest

# How many bad rows are named before the list is cut short: enough to fix a request, small enough that a
# 10,000-row mistake does not produce a megabyte of errors.
MAX_ERRORS = 50


class InvalidInput(BadRequest):
    """The body cannot be served; `errors` names each bad row and field."""


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    required: bool


def error(row: int | None, field: str | None, message: str) -> dict[str, Any]:
    return {"row": row, "field": field, "message": message}


def shown(value: Any) -> str:
    text = repr(value) if not isinstance(value, str) else f'"{value}"'
    return text if len(text) <= 40 else text[:37] + "..."


def convert(column: Column, raw: Sequence[Any]) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """The column's values as the model reads them (float64 for numbers, objects otherwise) and the errors naming
    its bad rows, none for a good column."""
    converted = _complete(column, raw)
    if converted is not None:
        return converted, []
    return _convert(column, np.fromiter(raw, dtype=object, count=len(raw)))


def _complete(column: Column, raw: Sequence[Any]) -> np.ndarray | None:
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
            error(int(i), column.name, "this column is required: null is not allowed")
            for i in np.flatnonzero(missing)[:MAX_ERRORS]
        ]
    if not ok.all():
        errors += [
            error(int(i), column.name, f"{problem}, got {shown(values[i])}") for i in np.flatnonzero(~ok)[:MAX_ERRORS]
        ]
    return errors
