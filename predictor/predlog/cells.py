"""What every rollup of the prediction log shares: the hour (and day) a row belongs to, the row
fields a relabelling reads, and the upsert that adds counts to a cell. Its own module so that the
rollups (rollups.py) and the label sources' rollup (source_rollups.py) both build on it and import
each other in one direction only (an import-linter contract)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.db import connection

# What a relabelling (rollups.relabel, source_rollups) needs of a row.
ROW = ("id", "model_version", "created_at", "label", "label_value", "prediction", "prediction_value", "probabilities")


def hour_of(created: datetime | str) -> datetime:
    """The hour a row belongs to; `created` as a model holds it or as the SQLite writer formats it."""
    if isinstance(created, str):
        return datetime.fromisoformat(created[:13] + ":00:00").replace(tzinfo=UTC)
    return created.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def day_of(hour: datetime) -> datetime:
    """The UTC day an hour belongs to, as its midnight (DayLabels.hour)."""
    return hour_of(hour).replace(hour=0)


def add_to(model: Any, keys: tuple[str, ...], sums: tuple[str, ...], rows: list[tuple]) -> None:
    """INSERT rows of (keys..., sums...), adding the sums to a row already there for the keys."""
    if not rows:
        return
    table = connection.ops.quote_name(model._meta.db_table)
    names = [connection.ops.quote_name(name) for name in keys + sums]
    values = ", ".join(["(" + ", ".join(["%s"] * len(names)) + ")"] * len(rows))
    added = ", ".join(f"{n} = {table}.{n} + excluded.{n}" for n in names[len(keys) :])
    sql = (
        f"INSERT INTO {table} ({', '.join(names)}) VALUES {values} "
        f"ON CONFLICT ({', '.join(names[: len(keys)])}) DO UPDATE SET {added}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [value for row in rows for value in row])
