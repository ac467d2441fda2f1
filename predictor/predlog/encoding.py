"""Values of a batch of logged predictions as the database takes them, built for the whole batch at once.

The writer (writing.py) calls these off the request path, once per run of rows of one served model.
"""

from datetime import UTC, datetime

import numpy as np
import orjson


def probabilities(group: list[tuple], count: int) -> list[str | None]:
    """Each row's probabilities as JSON, in the version's class order: the batch's matrix is encoded once, as the
    model gave it (numpy's own types), and cut between rows (numbers hold no bracket)."""
    if group[0][5] is None or count == 0:
        return [None] * count
    text = orjson.dumps(np.concatenate([entry[5] for entry in group]), option=orjson.OPT_SERIALIZE_NUMPY).decode()
    return ["[" + row + "]" for row in text[2:-2].split("],[")]


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
