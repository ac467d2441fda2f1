"""Which rows are held out: decided by the row itself, so the split survives dataset growth.

A row keeps its train/holdout assignment in every later version of the dataset, so an earlier
champion is never scored on rows it was trained on.
"""

import numpy as np
import pandas as pd

_BUCKETS = 10_000


def row_keys(frame: pd.DataFrame, id_column: str | None = None) -> pd.Series:
    """A stable 64-bit key per row: of the id column if there is one, else of every value.

    Numbers are written as floats so that a column turning from int to float (a missing value
    appearing in a later version) does not move its rows to the other side of the split.
    """
    columns = [id_column] if id_column else sorted(frame.columns)
    parts = []
    for name in columns:
        column = frame[name]
        if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
            text = column.astype("float64").map(lambda v: "" if v != v else repr(float(v)))
        else:
            text = column.map(lambda v: "" if v is None or v != v else str(v))
        parts.append(f"{name}=" + text.astype(str))
    joined = parts[0]
    for part in parts[1:]:
        joined = joined + "\x1f" + part
    return pd.util.hash_pandas_object(joined, index=False, hash_key="retraining-rows!")


def holdout_mask(frame: pd.DataFrame, fraction: float, id_column: str | None = None) -> np.ndarray:
    """True for the rows that belong to the holdout."""
    keys = row_keys(frame, id_column).to_numpy()
    return (keys % _BUCKETS) < round(fraction * _BUCKETS)


def split(frame: pd.DataFrame, fraction: float, id_column: str | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(training rows, holdout rows)."""
    mask = holdout_mask(frame, fraction, id_column)
    return frame[~mask].reset_index(drop=True), frame[mask].reset_index(drop=True)
