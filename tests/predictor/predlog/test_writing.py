import logging
import threading
import time
import uuid
from datetime import UTC, datetime

import numpy as np
import orjson
import pytest
from django.db.backends.signals import connection_created

from predictor.models import LoggedVersion, Prediction
from predictor.predlog import encoding, writing
from predictor.predlog.ids import in_sample
from predictor.serving.holder import holder, served_model
from tests.support.predlog import database_locked, predict


def wait_until(condition, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def test_it_logs_each_row_with_its_inputs_prediction_probabilities_and_version(client, served, rows, prediction_log):
    rows[1]["bill_length_mm"] = None
    ids = predict(client, rows)
    assert prediction_log.flush()
    logged = {str(p.id): p for p in Prediction.objects.all()}
    assert list(logged) == ids
    second = logged[ids[1]]
    assert second.inputs == rows[1]
    assert second.model_version == "1"
    assert second.prediction in {"Adelie", "Chinstrap", "Gentoo"}
    assert sum(second.probabilities) == pytest.approx(1.0)
    assert second.label is None
    assert LoggedVersion.objects.get(version="1").classes == ["Adelie", "Chinstrap", "Gentoo"]


def test_a_request_is_answered_while_the_writer_is_blocked(client, served, rows, prediction_log):
    predict(client, rows[:1])
    assert prediction_log.flush()
    with database_locked():
        ids = predict(client, rows[:1])
        wait_until(lambda: prediction_log.stats.pending == 1)
        started = time.monotonic()
        for _ in range(20):
            ids += predict(client, rows[:1])
        answered_in = (time.monotonic() - started) / 20
        assert not Prediction.objects.filter(id__in=ids).exists()
        assert prediction_log.stats.written == 1
    assert answered_in < 0.25
    assert prediction_log.flush(timeout=30)
    assert Prediction.objects.filter(id__in=ids).count() == 21


def test_a_full_queue_drops_rows_counts_them_and_says_so_once(
    client, served, rows, prediction_log, monkeypatch, caplog
):
    writer = writing.Writer(max_pending=2)
    monkeypatch.setattr(writing, "_writer", writer)
    predict(client, rows[:1])
    assert writer.flush()
    caplog.set_level(logging.WARNING, logger="predictor.predlog.writing")
    with database_locked():
        for _ in range(6):
            predict(client, rows[:1])
        assert writer.stats.dropped_queue_full == 4
    assert writer.flush(timeout=30)
    drops = [r for r in caplog.records if "queue full" in r.getMessage()]
    assert len(drops) == 1
    assert Prediction.objects.count() == 3
    writer.stop()


@pytest.mark.parametrize("share", [0.0, 0.3])
def test_it_keeps_the_configured_sample_decided_by_each_id(client, served, rows, prediction_log, settings, share):
    settings.PREDICTION_LOG_SAMPLE = share
    ids = predict(client, rows * 30)
    assert prediction_log.flush()
    kept = {str(i) for i in Prediction.objects.values_list("id", flat=True)}
    assert kept == {i for i in ids if in_sample(i, share)}
    assert 0 <= len(kept) < len(ids)
    assert len(kept) == 0 if share == 0 else len(kept) > 0


def test_the_sample_keeps_about_its_share() -> None:
    from predictor.predlog.ids import new_ids

    kept = sum(in_sample(i, 0.25) for i in new_ids(40_000))
    assert 0.24 < kept / 40_000 < 0.26


def test_a_crashed_writer_thread_is_replaced_and_the_log_goes_on(client, served, rows, prediction_log, monkeypatch):
    real = writing.Writer._rows
    crashes = []

    def crash_once(self, entries):
        if not crashes:
            crashes.append(1)
            raise RuntimeError("a bug in the writer")
        return real(self, entries)

    monkeypatch.setattr(writing.Writer, "_rows", crash_once)
    lost = predict(client, rows[:1])
    prediction_log.flush()
    wait_until(lambda: prediction_log.stats.restarts == 1)
    kept = predict(client, rows[:1])
    assert prediction_log.flush()
    assert [str(i) for i in Prediction.objects.values_list("id", flat=True)] == kept
    assert lost != kept
    assert prediction_log.stats.pending == 0


def test_a_failed_write_is_tried_again_on_a_fresh_connection(client, served, rows, prediction_log, monkeypatch):
    real = writing.insert
    failures = []

    def fail_once(*args, **kwargs):
        if not failures:
            failures.append(1)
            from django.db import OperationalError

            raise OperationalError("server closed the connection unexpectedly")
        return real(*args, **kwargs)

    monkeypatch.setattr(writing, "insert", fail_once)
    ids = predict(client, rows)
    assert prediction_log.flush()
    assert Prediction.objects.filter(id__in=[uuid.UUID(i) for i in ids]).count() == 3
    assert prediction_log.stats.write_errors == 1
    assert prediction_log.stats.dropped_write_failed == 0


def test_requests_of_several_rows_and_two_versions_in_one_batch_are_each_logged_as_served(
    client, served, rows, prediction_log, penguin_versions
):
    first = predict(client, rows) + predict(client, rows[:1])
    row = {"id": served.pk, "model_name": served.model_name, "run_id": served.run_id}
    holder().serve(served_model(row, penguin_versions.second))
    second = predict(client, rows[1:]) + predict(client, rows)
    assert prediction_log.flush()
    logged = {str(p.id): p for p in Prediction.objects.all()}
    assert set(logged) == set(first + second)
    sent = rows + rows[:1] + rows[1:] + rows
    for pid, inputs in zip(first + second, sent, strict=True):
        assert logged[pid].inputs == inputs
        assert logged[pid].model_version == ("1" if pid in first else penguin_versions.second.version)
        assert logged[pid].probabilities[["Adelie", "Chinstrap", "Gentoo"].index(logged[pid].prediction)] == max(
            logged[pid].probabilities
        )
    assert prediction_log.stats.written == len(sent)
    assert prediction_log.stats.writes >= 1
    assert prediction_log.stats.cpu_seconds > 0


def test_the_writer_keeps_its_connection_from_one_write_to_the_next(client, served, rows, prediction_log):
    opened = []

    def count(sender, connection, **kwargs):
        if threading.current_thread().name == "prediction-log-writer":
            opened.append(connection)

    connection_created.connect(count)
    try:
        for _ in range(3):
            predict(client, rows[:1])
            assert prediction_log.flush()
    finally:
        connection_created.disconnect(count)
    assert prediction_log.stats.writes == 3
    assert len(opened) == 1


@pytest.mark.parametrize(
    "stamp",
    [1764460800.0, 1764460800.0000005, 1764460800.0000015, 1764460800.9999996, 1764460801.123456, 1.7e9 + 0.1],
)
def test_created_times_are_what_django_stores_for_the_same_instant(stamp):
    at = datetime.fromtimestamp(stamp, tz=UTC)
    assert encoding.created([stamp], native_datetime=True) == [at]
    # Django's SQLite backend: str() of the naive UTC time (no fraction on a whole second).
    assert encoding.created([stamp], native_datetime=False) == [str(at.replace(tzinfo=None))]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_probabilities_are_each_rows_own_json_whatever_the_requests_sizes(dtype):
    first = np.array([[0.1, 0.2, 0.7], [1.0, 0.0, 0.0]], dtype=dtype)
    second = np.array([[1 / 3, 1 / 3, 1 / 3]], dtype=dtype)
    group = [(None,) * 5 + (first,), (None,) * 5 + (second,)]
    expected = [orjson.dumps(row, option=orjson.OPT_SERIALIZE_NUMPY).decode() for row in [*first, *second]]
    assert encoding.probabilities(group, 3) == expected
    assert encoding.probabilities([(None,) * 6], 2) == [None, None]
