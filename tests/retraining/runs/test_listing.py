"""The runs list's filters: outcome, trigger, a date range and text, the same on the panel and the API."""

from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from retraining.models import RetrainingRun
from retraining.runs.listing import FilterError, RunFilter

TOKEN = "listing-token"


def made(days_ago: int, **fields) -> RetrainingRun:
    run = RetrainingRun.objects.create(active=None, status=fields.pop("status", "kept"), **fields)
    created = timezone.make_aware(datetime(2026, 11, 30, 12, 0)) - timedelta(days=days_ago)
    RetrainingRun.objects.filter(pk=run.pk).update(created_at=created)
    return run


@pytest.fixture
def history(db):
    return {
        "old": made(10, trigger="schedule", reasons=["kept: accuracy gain 0.001 below 0.01"]),
        "failed": made(3, trigger="api", status="failed", error="DVC remote unreachable: s3://bucket"),
        "deployed": made(1, trigger="manual", status="deployed", model_version="12", reasons=["gate passed"]),
        "today": made(0, trigger="drift", dataset={"rev": "abc123def", "md5": "f00d"}),
    }


def listed(**query) -> list[RetrainingRun]:
    return list(RunFilter.parse(query).runs(RetrainingRun.objects.order_by("-id")))


def test_a_date_range_keeps_whole_days_at_both_ends(history):
    assert listed(since="2026-11-27", until="2026-11-29") == [history["deployed"], history["failed"]]
    assert listed(since="2026-11-30") == [history["today"]]
    assert listed(until="2026-11-20") == [history["old"]]


@pytest.mark.parametrize(
    ("text", "which"),
    [
        ("unreachable", "failed"),
        ("GAIN 0.001", "old"),
        ("12", "deployed"),
        ("abc123", "today"),
    ],
)
def test_text_finds_reasons_errors_versions_and_data_revisions(history, text, which):
    assert history[which] in listed(q=text)
    assert len(listed(q=text)) <= 2


def test_hash_and_a_number_find_a_run_by_its_id(history):
    assert listed(q=f"#{history['failed'].pk}") == [history["failed"]]


def test_filters_combine(history):
    assert listed(status="deployed", trigger="manual", since="2026-11-29", q="gate") == [history["deployed"]]
    assert listed(status="failed", q="gate") == []


def test_every_unreadable_value_is_named_at_once(db):
    with pytest.raises(FilterError) as raised:
        RunFilter.parse({"status": "exploded", "since": "yesterday", "until": "2026-13-01"})

    assert set(raised.value.errors) == {"status", "since", "until"}
    assert "YYYY-MM-DD" in raised.value.errors["since"]


@pytest.mark.parametrize("value", ["", "20261207", " 2026-12-07", "2026-12-07T00:00", "2026-W49-1"])
def test_only_a_calendar_date_as_the_schema_says_is_a_date(db, value):
    with pytest.raises(FilterError, match="YYYY-MM-DD"):
        RunFilter.parse({"until": value})


def test_a_form_s_empty_fields_are_no_filter_but_an_empty_api_value_is_an_error(db):
    assert RunFilter.parse({"status": "", "since": "", "q": ""}, blank_is_unset=True) == RunFilter()
    with pytest.raises(FilterError) as raised:
        RunFilter.parse({"status": "", "since": ""})
    assert set(raised.value.errors) == {"status", "since"}


def test_a_range_that_ends_before_it_starts_is_refused(db):
    with pytest.raises(FilterError, match="2026-11-01 is before since 2026-11-05"):
        RunFilter.parse({"since": "2026-11-05", "until": "2026-11-01"})


def test_a_nul_character_in_the_text_is_refused_by_name(db):
    # PostgreSQL cannot hold a NUL in a text value: the search would fail as a server error.
    with pytest.raises(FilterError, match="NUL") as raised:
        RunFilter.parse({"q": "churn\x00"})
    assert set(raised.value.errors) == {"q"}


@pytest.mark.parametrize("text", ["99999999999999999999999", "#99999999999999999999", "\u00b2", "\u0663"])
def test_a_number_no_run_id_can_be_is_searched_as_text(history, text):
    assert listed(q=text) == []


def test_the_first_and_last_calendar_days_are_open_ends(history):
    assert len(listed(since="0001-01-01", until="9999-12-31")) == len(history)


def test_the_api_filters_by_date_and_text_and_names_a_bad_date(client, history, settings):
    settings.RETRAIN_API_TOKEN = TOKEN
    auth = {"HTTP_AUTHORIZATION": f"Bearer {TOKEN}"}

    found = client.get("/api/v1/runs?since=2026-11-27&q=unreachable", **auth).json()
    bad = client.get("/api/v1/runs?until=soon", **auth)

    assert [run["id"] for run in found["results"]] == [history["failed"].pk]
    assert bad.status_code == 400
    assert "YYYY-MM-DD" in str(bad.json()["until"])


def test_the_panel_filters_keeps_the_filter_across_pages_and_says_what_is_wrong(client, staff_user, history, settings):
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    client.force_login(staff_user)
    for _ in range(25):
        made(2, trigger="cli", reasons=["nothing new"])

    page = client.get("/panel/runs/?q=nothing+new&since=2026-11-28").content.decode()
    wrong = client.get("/panel/runs/?since=someday").content.decode()

    assert "Page 1 of 2" in page
    assert "?since=2026-11-28&amp;q=nothing+new&amp;page=2" in page
    assert 'value="nothing new"' in page
    assert "since: &#x27;someday&#x27; is not a date" in wrong
    assert "Page 1 of 2" in wrong  # the list is shown unfiltered
