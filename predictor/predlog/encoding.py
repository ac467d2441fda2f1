"""Values of a batch of logged predictions as the database takes them, built for the whole batch at once.

The writer (writing.py) calls these off the request path, once per run of rows of one served model.
"""

from datetime import UTC, datetime

import numpy as np
import orjson


def probabilities(group: list[tuple], count: int) -> list[str | None]:
    """Each row's probabilities as JSON, in the version's class order: the batch's matrix is encoded once, as the
    model gave it (numpy's own types), and cut between rows (numbers hold no bracket, no line break)."""
    if group[0][5] is None or count == 0:
        return [None] * count
    text = orjson.dumps(np.concatenate([entry[5] for entry in group]), option=orjson.OPT_SERIALIZE_NUMPY).decode()
    return text[1:-1].replace("],[", "]\n[").split("\n")


def created(stamps: list[float], native_datetime: bool) -> list[datetime] | list[str]:
    """The request times as the database takes them, for a whole batch."""
    if native_datetime:
        return [datetime.fromtimestamp(stamp, tz=UTC) for stamp in stamps]
    # What Django's SQLite backend stores for an aware time (USE_TZ): str() of the naive UTC time, formatted by
    # numpy for the batch, rounded as datetime.fromtimestamp rounds (half to even).
    at = np.array(stamps)
    seconds = np.floor(at)
    micros = np.round((at - seconds) * 1e6).astype(np.int64) + seconds.astype(np.int64) * 1_000_000
    texts = np.datetime_as_string(micros.astype("datetime64[us]"), unit="us").tolist()
    return [(text[:19] if text.endswith(".000000") else text).replace("T", " ") for text in texts]


# Dtypes orjson writes from the array exactly as from the array's tolist() (float32 would print shorter).
_NUMPY_TEXT = frozenset({"float64", "int64", "int32", "bool"})


def inputs(columns: dict[str, np.ndarray], count: int) -> list[str]:
    """Each row's inputs as a JSON object, built a column at a time: each column's values are encoded together and
    every row is one %-format of a template naming the columns, so no dict and no encoder call is made per row."""
    template = ",".join(orjson.dumps(name).decode().replace("%", "%%") + ":%s" for name in columns)
    texts = [_texts(values) for values in columns.values()]
    return list(map(("{" + template + "}").__mod__, zip(*texts, strict=True))) if texts else ["{}"] * count


def _texts(values: np.ndarray) -> list[str]:
    """A column's values as JSON texts; NaN (a missing number after the input check) as null."""
    if values.dtype.name in _NUMPY_TEXT:
        if len(values) == 0:
            return []
        # Numbers, booleans and null hold no comma: the array's text is cut between values.
        return orjson.dumps(np.ascontiguousarray(values), option=orjson.OPT_SERIALIZE_NUMPY).decode()[1:-1].split(",")
    return list(map(bytes.decode, map(orjson.dumps, values.tolist())))
