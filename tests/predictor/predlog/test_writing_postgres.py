"""The writer's PostgreSQL connection killed mid-write: serving goes on, the writer reconnects.

Runs where the tests run against PostgreSQL (CI's second pass:
DATABASE_URL=postgres://... make test); SQLite has no server connection to kill.
"""

import time

import pytest
from django.db import connection

from predictor.models import Prediction
from tests.support.predlog import database_locked, predict

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs PostgreSQL (DATABASE_URL=postgres://...): SQLite has no server connection to kill",
)


def backends_other_than_mine() -> set[int]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() "
            "AND backend_type = 'client backend'"
        )
        return {row[0] for row in cursor.fetchall()}


def writer_waiting_on_the_lock() -> int | None:
    """The backend whose insert into the log waits on the lock (other connections may be open)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() "
            "AND wait_event_type = 'Lock' AND query ILIKE '%%predictor_prediction%%'"
        )
        row = cursor.fetchone()
    return row[0] if row else None


def test_killing_the_writers_connection_mid_write_fails_no_request_and_loses_no_row(
    client, served, rows, prediction_log
):
    ids = predict(client, rows[:1])
    assert prediction_log.flush()
    timings = []
    with database_locked():
        for _ in range(5):
            started = time.monotonic()
            ids += predict(client, rows[:1])
            timings.append(time.monotonic() - started)
        deadline = time.monotonic() + 10
        while (writer_pid := writer_waiting_on_the_lock()) is None:
            assert time.monotonic() < deadline, "the writer never started its insert"
            time.sleep(0.05)
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [writer_pid])
        for _ in range(5):
            started = time.monotonic()
            ids += predict(client, rows[:1])
            timings.append(time.monotonic() - started)
    assert max(timings) < 0.5
    assert prediction_log.flush(timeout=30)
    assert prediction_log.stats.write_errors >= 1
    assert Prediction.objects.filter(id__in=ids).count() == 11
    assert writer_pid not in backends_other_than_mine()
