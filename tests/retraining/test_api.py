"""The runs API for scripts and CI: who may call it, what it answers, and the run in progress."""

from unittest import mock

import pytest
from django.db import transaction

from retraining.models import RetrainingRun
from retraining.runs import store
from tests.support import evidence

TOKEN = "ci-secret-token-123"


@pytest.fixture(autouse=True)
def api_token(settings):
    settings.RETRAIN_API_TOKEN = TOKEN


@pytest.fixture
def finished_runs(db):
    made = []
    for trigger, status in [("schedule", "skipped"), ("api", "deployed"), ("cli", "kept"), ("schedule", "failed")]:
        run = RetrainingRun.objects.create(trigger=trigger, status=status, active=None, reasons=[f"{status} because"])
        made.append(run)
    return made


def bearer(token: str = TOKEN) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def test_it_queues_a_run_for_a_token_holder_after_commit(client, db, django_capture_on_commit_callbacks):
    with (
        mock.patch("retraining.tasks.retrain.delay") as delay,
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = client.post("/api/v1/runs", **bearer())

    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "queued"
    assert body["trigger"] == "api"
    assert response["Location"] == f"/api/v1/runs/{body['id']}"
    delay.assert_called_once_with(body["id"])


def test_it_queues_a_run_for_a_staff_session_and_records_who(client, staff_user, django_capture_on_commit_callbacks):
    client.force_login(staff_user)

    with django_capture_on_commit_callbacks(execute=False):
        response = client.post("/api/v1/runs")

    assert response.status_code == 201
    assert response.json()["triggered_by"] == "alice"
    assert RetrainingRun.objects.get().triggered_by == staff_user


def test_it_answers_409_with_the_run_in_progress(client, db):
    with transaction.atomic():
        existing, _ = store.start_run(RetrainingRun.Trigger.SCHEDULE)

    response = client.post("/api/v1/runs", **bearer())

    assert response.status_code == 409
    assert response.json()["run"]["id"] == existing.pk
    assert f"run #{existing.pk} is already queued" in response.json()["detail"]
    assert RetrainingRun.objects.count() == 1


def test_it_answers_401_without_credentials_or_with_a_wrong_token(client, db):
    assert client.post("/api/v1/runs").status_code == 401
    assert client.get("/api/v1/runs", **bearer("wrong")).status_code == 401
    assert client.get("/api/v1/runs/1").status_code == 401
    assert not RetrainingRun.objects.exists()


def test_a_token_is_refused_when_none_is_configured(client, db, settings):
    settings.RETRAIN_API_TOKEN = ""

    assert client.get("/api/v1/runs", **bearer("")).status_code == 401


def test_it_answers_403_to_a_signed_in_user_who_is_not_staff(client, regular_user):
    client.force_login(regular_user)

    assert client.post("/api/v1/runs").status_code == 403
    assert client.get("/api/v1/runs").status_code == 403
    assert not RetrainingRun.objects.exists()


def test_it_lists_runs_newest_first_with_pages(client, finished_runs):
    response = client.get("/api/v1/runs?page_size=3", **bearer())

    body = response.json()
    assert response.status_code == 200
    assert body["count"] == 4
    assert [run["id"] for run in body["results"]] == [r.pk for r in reversed(finished_runs)][:3]
    assert body["next"].endswith("page=2&page_size=3")


def test_a_run_says_what_its_holdout_could_tell(client, finished_runs):
    run = finished_runs[2]
    run.comparison, run.holdout_exclusion = evidence.COMPARISON, evidence.EXCLUSION
    run.save()

    body = client.get(f"/api/v1/runs/{run.pk}", **bearer()).json()

    assert body["comparison"] == evidence.COMPARISON
    assert body["holdout_exclusion"]["excluded"] == {"challenger v3": 0, "champion v2": 12}
    for said in evidence.SAID:
        assert any(said in sentence for sentence in body["holdout"]), said


def test_it_filters_runs_by_status_and_trigger(client, finished_runs):
    by_trigger = client.get("/api/v1/runs?trigger=schedule", **bearer()).json()
    by_both = client.get("/api/v1/runs?trigger=schedule&status=failed", **bearer()).json()

    assert {run["status"] for run in by_trigger["results"]} == {"skipped", "failed"}
    assert [run["status"] for run in by_both["results"]] == ["failed"]


def test_it_names_an_unknown_filter_value(client, finished_runs):
    response = client.get("/api/v1/runs?status=exploded", **bearer())

    assert response.status_code == 400
    assert "unknown status 'exploded'" in str(response.json()["status"])


def test_it_shows_one_run_with_everything_it_recorded(client, finished_runs):
    run = finished_runs[1]
    run.dataset = {"md5": "abc", "rev": "0" * 40, "path": "data/penguins.csv"}
    run.challenger_metrics = {"accuracy": 0.97}
    run.champion_metrics = {"accuracy": 0.95}
    run.p_value = 0.25
    run.steps = [{"name": "check", "status": "done", "duration": 0.01}]
    run.save()

    body = client.get(f"/api/v1/runs/{run.pk}", **bearer()).json()

    assert body["dataset"]["md5"] == "abc"
    assert body["challenger_metrics"] == {"accuracy": 0.97}
    assert body["champion_metrics"] == {"accuracy": 0.95}
    assert body["p_value"] == 0.25
    assert body["reasons"] == ["deployed because"]
    assert body["steps"][0]["name"] == "check"
    assert body["url"].endswith(f"/panel/runs/{run.pk}/")


def test_it_answers_404_for_a_run_that_does_not_exist(client, db):
    assert client.get("/api/v1/runs/999", **bearer()).status_code == 404


def test_a_run_says_which_team_pipeline_trained_it_and_its_code_version(client, db):
    made_by = {"path": "team.models:make_pipeline", "version": "sha256:" + "a" * 64}
    trained = RetrainingRun.objects.create(trigger="api", status="kept", active=None, lineage={"pipeline": made_by})
    failed = RetrainingRun.objects.create(
        trigger="api", status="failed", active=None, setup={"pipeline": "team.gone:make_pipeline"}
    )
    built_in = RetrainingRun.objects.create(trigger="api", status="kept", active=None)

    assert client.get(f"/api/v1/runs/{trained.pk}", **bearer()).json()["pipeline"] == made_by
    gone = {"path": "team.gone:make_pipeline", "version": "unknown"}
    assert client.get(f"/api/v1/runs/{failed.pk}", **bearer()).json()["pipeline"] == gone
    assert client.get(f"/api/v1/runs/{built_in.pk}", **bearer()).json()["pipeline"] is None
