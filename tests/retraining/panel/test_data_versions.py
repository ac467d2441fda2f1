"""The Data versions page: every version the pipeline saw, from the runs that recorded it."""

import pytest

from predictor.models import Deployment
from retraining.models import RetrainingRun
from retraining.panel.versions import data_versions

V1 = {"source": "git", "path": "data/churn.csv", "rev": "aaa111", "md5": "md5-one", "size": 2048, "schema": None}
V2 = {"source": "git", "path": "data/batches", "rev": "bbb222", "md5": "md5-two", "size": None, "schema": None}
READ_ONE = {
    "read_as": {"format": "CSV"},
    "columns": {"columns": {"a": {"kind": "numeric"}, "b": {"kind": "categorical"}}},
}
READ_MANY = {"read_as": {"format": "Parquet", "files": 3}, "columns": {"columns": {"a": {"kind": "numeric"}}}}


def run(dataset: dict, status: str = "deployed", **fields) -> RetrainingRun:
    return RetrainingRun.objects.create(trigger="schedule", status=status, active=None, dataset=dataset, **fields)


@pytest.fixture
def history(db):
    first = run(V1, rows={"total": 506}, lineage=READ_ONE, model_version="1")
    skipped = run(V1, status="skipped")
    second = run(V2, status="kept", rows={"total": 1100}, lineage=READ_MANY, model_version="2")
    only_seen = run({**V2, "md5": "md5-three", "rev": "ccc333"}, status="skipped")
    run({}, status="failed")  # failed before it found a version: not a version
    Deployment.objects.create(model_name="m", version="1", source="pipeline", data_version=V1)
    return first, skipped, second, only_seen


def test_each_version_once_newest_first_with_the_runs_that_read_it(history):
    first, skipped, _second, _only_seen = history

    found = data_versions()

    assert [version.md5 for version in found] == ["md5-three", "md5-two", "md5-one"]
    one = found[-1]
    assert [each["id"] for each in one.runs] == [first.pk, skipped.pk]
    assert (one.rows, one.columns, one.kind, one.read_as) == (506, 2, "file", "CSV")
    assert (one.models, one.served) == (["1"], ["1"])
    two = found[1]
    assert (two.rows, two.kind, two.read_as, two.models, two.served) == (
        1100,
        "folder of files",
        "Parquet, 3 files",
        ["2"],
        [],
    )


def test_a_version_no_run_read_says_unknown_rather_than_guessing(history, client, staff_user, settings):
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    unread = data_versions()[0]
    assert (unread.rows, unread.columns, unread.kind) == (None, None, "")

    client.force_login(staff_user)
    page = client.get("/panel/data/").content.decode()
    row = page[page.index('data-version="md5-three"') :].split("</tr>")[0]
    assert row.count("unknown") == 3
    assert f'href="/panel/runs/{history[3].pk}/"' in row


def test_a_source_that_names_its_kind_and_provenance_is_shown_so(db):
    run({**V1, "md5": "md5-sql", "kind": "feedback", "provenance": "412 labelled predictions, 2 sources"})

    (version,) = data_versions()

    assert (version.kind, version.provenance) == ("feedback partition", "412 labelled predictions, 2 sources")


def test_the_page_reads_the_runs_in_a_fixed_number_of_queries(
    history, client, staff_user, django_assert_max_num_queries
):
    for _ in range(30):
        run(V1, status="skipped")
    client.force_login(staff_user)

    with django_assert_max_num_queries(12):
        assert client.get("/panel/data/").status_code == 200


def test_each_version_links_to_its_lineage_on_the_first_run_that_read_it(history, client, staff_user, settings):
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    first, _skipped, second, _only_seen = history
    client.force_login(staff_user)

    page = client.get("/panel/data/").content.decode()
    run_page = client.get(f"/panel/runs/{first.pk}/").content.decode()

    def row(md5: str) -> str:
        return page[page.index(f'data-version="{md5}"') :].split("</tr>")[0]

    assert f'href="/panel/runs/{first.pk}/#lineage"' in row("md5-one")
    assert f'href="/panel/runs/{second.pk}/#lineage"' in row("md5-two")
    assert "#lineage" not in row("md5-three")  # only seen, never read: no lineage recorded
    assert 'id="lineage"' in run_page


def test_the_page_shows_the_newest_versions_a_page_at_a_time(db, client, staff_user, settings):
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    RetrainingRun.objects.bulk_create(
        RetrainingRun(trigger="schedule", status="skipped", active=None, dataset={**V1, "md5": f"md5-{n}"})
        for n in range(30)
    )
    client.force_login(staff_user)

    first = client.get("/panel/data/").content.decode()
    second = client.get("/panel/data/?page=2").content.decode()

    assert first.count("data-version=") == 25
    assert 'data-version="md5-29"' in first  # newest first
    assert "Page 1 of 2" in first
    assert second.count("data-version=") == 5
    assert 'data-version="md5-0"' in second
