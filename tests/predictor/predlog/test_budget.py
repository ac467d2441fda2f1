"""The prediction log's budget: pruned oldest first, new predictions sampled down, the sampling
recorded and shown, and the team told once when it starts."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from predictor.models import LogBudget, LogSampling, Prediction
from predictor.predlog import budget
from predictor.predlog.ids import new_ids
from tests.support.predlog import predict

SUBJECT = "[serving] the prediction log is full"


def fill(count: int, ago: timedelta = timedelta(0)) -> list[str]:
    ids = new_ids(count)
    created = timezone.now() - ago
    Prediction.objects.bulk_create(
        Prediction(id=pid, created_at=created, model_version="1", inputs={}, prediction="Adelie") for pid in ids
    )
    return ids


@pytest.fixture
def notified(settings) -> list:
    settings.NOTIFY_EMAILS = ["ops@example.com"]
    return mail.outbox


def sampling_mails() -> list[str]:
    return [m.subject for m in mail.outbox if m.subject.startswith(SUBJECT)]


def test_a_flood_of_large_requests_keeps_the_log_within_its_budget(
    client, served, rows, prediction_log, settings, monkeypatch, notified
):
    settings.PREDICTION_LOG_MAX_ROWS = 1000
    monkeypatch.setattr(budget, "CHECK_INTERVAL", 0.0)
    for _ in range(16):
        predict(client, rows * 100)
        assert prediction_log.flush()
    # What the last write added before its check: at most one batch over the budget.
    assert Prediction.objects.count() <= 1000
    assert prediction_log.stats.sampled_out > 0
    assert prediction_log.budget.share < 1
    assert LogSampling.objects.filter(share__lt=1).exists()
    assert sampling_mails() == [sampling_mails()[0]]


def test_sampling_starts_near_the_budget_and_the_team_hears_of_it_once(db, settings, notified):
    settings.PREDICTION_LOG_MAX_ROWS = 1000
    fill(700)
    assert budget.check(interval=0) == 1.0
    fill(200)
    share = budget.check(interval=0)
    assert share < 1
    assert budget.check(interval=0) == share
    assert len(sampling_mails()) == 1
    assert f"{share:.2%}" in sampling_mails()[0]
    changes = list(LogSampling.objects.values_list("share", "rows", "budget"))
    assert changes == [(share, 900, 1000)]
    state = LogBudget.objects.get()
    assert (state.rows, state.share, state.notified) == (900, share, True)


def test_it_keeps_everything_again_below_the_mark_and_tells_again_next_time(db, settings, notified):
    settings.PREDICTION_LOG_MAX_ROWS = 1000
    old = fill(900)
    share = budget.check(interval=0)
    assert share < 1
    Prediction.objects.filter(id__in=old[:500]).delete()
    assert budget.check(interval=0) == 1.0
    assert [s for (s,) in LogSampling.objects.values_list("share")] == [1.0, share]
    assert LogBudget.objects.get().notified is False
    fill(500)
    assert budget.check(interval=0) < 1
    assert len(sampling_mails()) == 2


def test_over_the_budget_the_oldest_go_first(db, settings):
    settings.PREDICTION_LOG_MAX_ROWS = 1000
    oldest = fill(300, ago=timedelta(hours=2))
    newer = fill(900)
    budget.check(interval=0)
    assert Prediction.objects.count() == int(1000 * budget.PRUNE_TO)
    left = {str(pid) for pid in Prediction.objects.values_list("id", flat=True)}
    assert len(left.intersection(oldest)) == 50
    assert set(newer) <= left


def test_one_process_checks_per_interval(db, settings):
    settings.PREDICTION_LOG_MAX_ROWS = 1000
    budget.check(interval=0)
    fill(1200)
    assert budget.check(interval=60) == 1.0
    assert Prediction.objects.count() == 1200
    later = timezone.now() + timedelta(seconds=61)
    assert budget.check(now=later, interval=60) < 1
    assert Prediction.objects.count() == 950


def test_the_monitoring_report_and_page_show_the_budget(client, staff_user, db, settings, plain_static):
    settings.PREDICTION_LOG_MAX_ROWS = 1000
    fill(900)
    share = budget.check(interval=0)
    client.force_login(staff_user)
    body = client.get("/api/v1/monitoring").json()["prediction_log"]["budget"]
    assert body["max_rows"] == 1000
    assert body["rows"] == 900
    assert body["share"] == share
    assert body["sampling"] is True
    assert body["history"][0]["share"] == share
    page = client.get("/panel/monitoring/").content.decode()
    assert "data-log-sampling" in page
    assert "900 of 1000 rows" in page


def test_the_default_budget_fits_the_database_app_json_provisions(settings):
    import json
    from pathlib import Path

    app = json.loads((Path(__file__).parents[3] / "app.json").read_text())
    assert {"plan": "heroku-postgresql:essential-0", "as": "DATABASE"} in app["addons"]
    # 1 GB, at about 424 bytes a logged row with its indexes, with room left for the rest.
    assert settings.PREDICTION_LOG_MAX_ROWS * 424 < 0.7 * 1024**3


def test_a_writer_checks_at_once_when_its_own_writes_near_the_mark(db, settings, monkeypatch):
    settings.PREDICTION_LOG_MAX_ROWS = 1000
    monkeypatch.setattr(budget, "CHECK_INTERVAL", 3600.0)
    process = budget.Budget()
    process.after_write(0)
    # A backlog: rows written now for requests answered a while ago.
    fill(850, ago=timedelta(minutes=5))
    process.after_write(50)
    assert process.share == 1.0
    process.after_write(100)
    assert process.share < 1
    assert LogBudget.objects.get().rows == 850
