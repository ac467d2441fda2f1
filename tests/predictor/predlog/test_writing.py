import logging
import time
import uuid

import pytest

from predictor.models import LoggedVersion, Prediction
from predictor.predlog import writing
from predictor.predlog.ids import in_sample
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
