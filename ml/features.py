"""The model's inputs and labels as training and scoring read them from a data frame: which columns
are features (numeric or categorical), the features in the form the pipeline expects, the labels."""

from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from ml.contract import is_numeric


def feature_columns(frame: pd.DataFrame, target: str, exclude: Iterable[str] = ()) -> tuple[list[str], list[str]]:
    """(numeric, categorical) feature columns, in the frame's order: every column but the target and
    the excluded ones (the row id, timestamps, free text: see ml.split.non_features)."""
    # prepare_features keeps numeric columns as they are and makes every other one plain objects.
    features = [c for c in frame.columns if c not in _dropped(frame, target, exclude)]
    numeric = [c for c in features if is_numeric(frame[c])]
    categorical = [c for c in features if c not in numeric]
    return numeric, categorical


def prepare_features(frame: pd.DataFrame, target: str | None = None, exclude: Iterable[str] = ()) -> pd.DataFrame:
    """Features as the pipeline expects them: categorical columns as plain Python objects.

    Excluded columns absent from the frame are ignored: a configured exclusion is not a required column.
    Numeric columns are not copied (pandas copies on write).
    """
    out = frame.drop(columns=_dropped(frame, target, exclude))
    for name in out.columns:
        if not is_numeric(out[name]):
            out[name] = _as_objects(out[name], None)
    return out


def labels(column: pd.Series) -> np.ndarray:
    """A label column as text, as `column.astype(str).to_numpy()` gives it (Python strings, NaN in a
    gap), with one object per distinct label."""
    text = column.astype(str)
    if isinstance(text.dtype, pd.StringDtype):
        return _as_objects(text, text.dtype.na_value).to_numpy()
    return text.to_numpy()


def _as_objects(column: pd.Series, missing: Any) -> Any:
    """The column's values as Python objects, `missing` in its gaps. A text column's values are made
    once per distinct value and shared by their rows, where pandas' own conversion makes one object
    a row: memory and time that grow with the rows, not with the values."""
    if isinstance(column.dtype, pd.StringDtype):
        codes, distinct = pd.factorize(column)
        objects = np.append(np.asarray(distinct, dtype=object), np.array([missing], dtype=object))[codes]
        return pd.Series(objects, index=column.index, name=column.name, dtype=object)
    return column.astype(object).where(column.notna(), missing)


def _dropped(frame: pd.DataFrame, target: str | None, exclude: Iterable[str]) -> list[str]:
    return [c for c in dict.fromkeys([target, *exclude]) if c is not None and c in frame.columns]
