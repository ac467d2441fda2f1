"""Posting predictions in process and holding the database's write lock from another connection."""

import contextlib
import json
from collections.abc import Iterator

from django.db import connection, connections

PREDICT = "/api/v1/predict"


def predict(client, rows: list[dict]) -> list[str]:
    response = client.post(PREDICT, json.dumps({"instances": rows}), content_type="application/json")
    assert response.status_code == 200, response.content
    return response.json()["prediction_ids"]


@contextlib.contextmanager
def database_locked() -> Iterator[None]:
    """The prediction table locked by another connection: every write to it waits until the end,
    reads go on.

    SQLite has one write lock for the whole file (BEGIN IMMEDIATE takes it); PostgreSQL locks
    the one table in SHARE mode, which blocks INSERT and lets SELECT through.
    """
    other = connections.create_connection("default")
    try:
        other.ensure_connection()
        other.set_autocommit(False)
        with other.cursor() as cursor:
            if connection.vendor == "sqlite":
                other.connection.execute("BEGIN IMMEDIATE")
            else:
                cursor.execute("LOCK TABLE predictor_prediction IN SHARE MODE")
        yield
    finally:
        other.rollback()
        other.close()
