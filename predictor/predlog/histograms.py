"""Score histograms (the rollups' `scores`, rollups.py): their encoding, and ROC AUC with DeLong's
interval from them, what live quality reads instead of the rows' probabilities."""

from __future__ import annotations

import math

import numpy as np
from django.db import connection
from django.db.models import QuerySet

from ml.positive import canonical
from predictor.predlog.quality import Z95

# Bins per class column: ROC AUC from them is the exact one but for pairs tied in a bin.
BINS = 10_000


def encode(bins: dict[int, int]) -> bytes:
    pairs = sorted((index, n) for index, n in bins.items() if n)
    return np.array(pairs, dtype=np.int64).tobytes() if pairs else b""


def decode(data: bytes | memoryview) -> dict[int, int]:
    pairs = np.frombuffer(bytes(data), dtype=np.int64).reshape(-1, 2)
    return dict(zip(pairs[:, 0].tolist(), pairs[:, 1].tolist(), strict=True))


def merged(data: bytes | memoryview, more: dict[int, int]) -> bytes:
    """`encode(merge(decode(data), more))` in numpy: a day's cell holds every bin of its classes."""
    pairs = np.frombuffer(bytes(data), dtype=np.int64).reshape(-1, 2)
    if more:
        pairs = np.concatenate([pairs, np.array(list(more.items()), dtype=np.int64).reshape(-1, 2)])
    index, at = np.unique(pairs[:, 0], return_inverse=True)
    counts = np.zeros(len(index), dtype=np.int64)
    np.add.at(counts, at.reshape(-1), pairs[:, 1])
    kept = counts != 0
    return np.column_stack([index[kept], counts[kept]]).tobytes() if kept.any() else b""


def merge(bins: dict[int, int], more: dict[int, int]) -> dict[int, int]:
    for index, n in more.items():
        bins[index] = bins.get(index, 0) + n
    return bins


def histogram(data: bytes | memoryview, columns: int) -> np.ndarray:
    """Encoded scores (one cell's, or several cells' joined) as a (columns, BINS) array of counts."""
    pairs = np.frombuffer(bytes(data), dtype=np.int64).reshape(-1, 2)
    # Float weights are exact: a bin's count stays far below 2**53.
    dense = np.bincount(pairs[:, 0], weights=pairs[:, 1], minlength=columns * BINS)
    return dense.astype(np.int64).reshape(columns, BINS)


def fetch_binary(rows: QuerySet) -> list[tuple]:
    """The rows of a values_list query; from PostgreSQL in its binary format, where a bytea arrives as
    its bytes rather than as hex text of twice the size to parse (a window's histograms are megabytes)."""
    if connection.vendor != "postgresql":
        return list(rows)
    import psycopg  # only where PostgreSQL is the database

    sql, params = rows.query.sql_with_params()
    connection.ensure_connection()
    with psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(sql, params, binary=True)
        return cursor.fetchall()


# Rows' probabilities binned by the database as Delta.add bins them (int() of p * BINS, clamped; a
# gap skipped), only rows with `columns` of them. PostgreSQL: (label, an array of bins per column);
# SQLite: (label, column, bin, rows). {rows} is a query of the rows' label and probabilities.
_ARRAY = "CASE WHEN jsonb_typeof(t.probabilities) = 'array' THEN t.probabilities END"
_BINNED = {
    "postgresql": f"""
SELECT t.label, {{aggregates}} FROM ({{rows}}) t WHERE jsonb_array_length({_ARRAY}) = %s GROUP BY 1""",
    "sqlite": f"""
SELECT t.label, CAST(e.key AS INTEGER), MAX(MIN(CAST(e.value * {BINS} AS INTEGER), {BINS - 1}), 0), COUNT(*)
FROM ({{rows}}) t, json_each(t.probabilities) e
WHERE json_array_length(t.probabilities) = %s AND e.type IN ('real', 'integer')
GROUP BY 1, 2, 3""",
}
# GREATEST and LEAST skip a NULL (a gap): it is tested first.
_COLUMN = (
    "array_agg(CASE WHEN t.probabilities->>{column} IS NOT NULL THEN "
    "LEAST(GREATEST(TRUNC((t.probabilities->>{column})::float8 * {bins}), 0), {bins} - 1)::int END)"
)


def binned_rows(rows: QuerySet, columns: int) -> dict[str, np.ndarray]:
    """{canonical true label: (columns, BINS) histogram} of labelled rows' probabilities, binned by
    the database: a window's edge hours hold thousands of rows, each a JSON array Python would parse."""
    sql, params = rows.values_list("label", "probabilities").query.sql_with_params()
    aggregates = ", ".join(_COLUMN.format(column=column, bins=BINS) for column in range(columns))
    found: dict[str, np.ndarray] = {}
    with connection.cursor() as cursor:
        cursor.execute(_BINNED[connection.vendor].format(rows=sql, aggregates=aggregates), [*params, columns])
        for label, *binned in cursor.fetchall():
            dense = found.setdefault(canonical(label), np.zeros((columns, BINS), dtype=np.int64))
            if connection.vendor != "postgresql":
                dense[binned[0], binned[1]] += binned[2]
                continue
            for column, indexes in enumerate(binned):
                kept = np.array([index for index in indexes if index is not None], dtype=np.int64)
                dense[column] += np.bincount(kept, minlength=BINS)
    return found


def histogram_auc(scores: dict[str, np.ndarray], classes: list[str], positive: str | None = None) -> float | None:
    """ROC AUC (ml.metrics.weighted_auc's choice of column and averaging) from per-truth histograms: rows in one
    bin count as tied. None where it does not apply (fewer than two classes labelled, an unknown one)."""
    scored = histogram_auc_interval(scores, classes, positive)
    return scored["value"] if scored is not None else None


def histogram_auc_interval(
    scores: dict[str, np.ndarray], classes: list[str], positive: str | None = None
) -> dict[str, float] | None:
    """{"value", "low", "high"}: `histogram_auc` with a 95% interval from DeLong's variance, which a
    histogram gives exactly (every row of a bin has the same placement among the other class). Beyond
    two classes the standard error is the mean of the columns' (the largest a mean of correlated
    estimates can have: rows are not joined across columns in a histogram)."""
    if len(scores) < 2 or not set(scores) <= set(classes):
        return None
    if positive is not None:
        pairs = [(classes.index(positive), positive)] if positive in classes else []
    elif len(classes) == 2:
        pairs = [(1, classes[1])]
    else:
        pairs = list(enumerate(classes))
    values, errors = [], []
    for column, positive_class in pairs:
        pos = sum((h[column] for t, h in scores.items() if t == positive_class), np.zeros(BINS))
        neg = sum((h[column] for t, h in scores.items() if t != positive_class), np.zeros(BINS))
        if not pos.sum() or not neg.sum():
            return None
        value, variance = binned_auc(pos, neg)
        values.append(value)
        errors.append(math.sqrt(variance))
    if not values:
        return None
    value, half = float(np.mean(values)), Z95 * float(np.mean(errors))
    return {"value": value, "low": max(0.0, value - half), "high": min(1.0, value + half)}


def binned_auc(pos: np.ndarray, neg: np.ndarray) -> tuple[float, float]:
    """ROC AUC and DeLong's variance of it from the positives' and negatives' counts per score bin."""
    n1, n0 = float(pos.sum()), float(neg.sum())
    # Each positive's share of negatives scored below it, each negative's share of positives above it.
    v10 = (np.cumsum(neg) - neg + 0.5 * neg) / n0
    v01 = (n1 - np.cumsum(pos) + 0.5 * pos) / n1
    value = float((pos * v10).sum() / n1)
    s10 = float((pos * (v10 - value) ** 2).sum() / (n1 - 1)) if n1 > 1 else 0.0
    s01 = float((neg * (v01 - value) ** 2).sum() / (n0 - 1)) if n0 > 1 else 0.0
    return value, s10 / n1 + s01 / n0
