"""The dashboard's live state (retraining/panel/live.py): one answer for every part of the page."""

import json
from datetime import datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from predictor.models import Deployment
from retraining.models import RetrainingRun, TriggerSettings, WorkerHeartbeat
from retraining.panel import live
from retraining.runs import store
from retraining.workers import heartbeat

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def plain_static_files(settings) -> None:
    """Pages link their CSS through the manifest storage, which only `collectstatic` fills."""
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


def finished_run(status: str, **fields) -> RetrainingRun:
    started = timezone.now() - timedelta(seconds=5)
    return RetrainingRun.objects.create(
        trigger="manual",
        status=status,
        active=None,
        started_at=started,
        finished_at=started + timedelta(seconds=0.3),
        **fields,
    )


def words(state: dict) -> str:
    return json.dumps(state).lower()


def heartbeat_row(hostname: str, seen: datetime, **fields) -> WorkerHeartbeat:
    fields = {"pid": 4242, "queues": ["celery"], "running": [], **fields}
    return WorkerHeartbeat.objects.create(
        hostname=hostname, started_at=seen - timedelta(hours=1), seen_at=seen, **fields
    )


def header(now: datetime | None = None, active: RetrainingRun | None = None) -> str:
    state = live.workers_state(heartbeat.liveness(now), active)
    return "".join(part["text"] for part in state["parts"])


def retrain_task(run: RetrainingRun) -> list[dict]:
    return [{"task": "retraining.tasks.retrain", "id": "t-1", "run_id": run.pk, "started_at": None}]


# A fixed moment, so the header's clock times read the same whenever the tests run.
MORNING = timezone.make_aware(datetime(2026, 11, 29, 6, 0))


def test_a_skipped_run_is_finished_in_every_part_of_the_state():
    run = finished_run(
        "skipped",
        step="",
        steps=[{"name": "check", "status": "stopped", "duration": 0.02, "detail": "no new data: abc"}],
        reasons=["no new data since version 2 (abc)"],
    )
    heartbeat_row("w1@host", timezone.now())  # the worker that ran it
    state = live.dashboard_state()
    assert state["run"]["id"] == run.pk
    assert state["run"]["title"] == "Latest run"
    assert state["run"]["outcome"] == "Skipped (no new data): no new data since version 2 (abc)"
    assert [s["status"] for s in state["run"]["steps"]][:2] == ["stopped", "skipped"]
    row = state["recent"][0]
    assert (row["status_label"], row["duration_label"], row["finished"]) == ("Skipped (no new data)", "0.30 s", True)
    assert "running" not in words(state)
    assert "queued" not in words(state)
    assert "in progress" not in words(state)


def test_a_queued_run_is_the_card_and_its_row_says_it_waits():
    finished_run("deployed", model_version="1", decision_rule="first_model")
    queued = RetrainingRun.objects.create(trigger="manual")
    state = live.dashboard_state()
    assert (state["run"]["id"], state["run"]["title"], state["run"]["outcome"]) == (queued.pk, "Run in progress", "")
    rows = [(r["id"], r["duration_label"]) for r in state["recent"]]
    assert rows == [(queued.pk, "queued…"), (queued.pk - 1, "0.30 s")]
    assert state["recent"][1]["decision"] == {"kind": "rule", "text": "First model: its score met the policy's minimum"}


def test_a_deployed_run_names_the_version_it_deployed():
    finished_run("deployed", model_version="3", reasons=["accuracy: challenger 0.9 vs champion 0.7 (+0.2000)"])
    assert live.dashboard_state()["run"]["outcome"] == "Deployed v3: accuracy: challenger 0.9 vs champion 0.7 (+0.2000)"


def test_the_chart_stamp_changes_when_a_run_gains_a_challenger_or_ends_and_only_then():
    run = RetrainingRun.objects.create(trigger="manual", status="running", step="pull")
    first = live.dashboard_state()["chart"]["stamp"]
    RetrainingRun.objects.filter(pk=run.pk).update(step="validate")
    assert live.dashboard_state()["chart"]["stamp"] == first
    RetrainingRun.objects.filter(pk=run.pk).update(step="compare", challenger_metrics={"accuracy": 0.9})
    trained = live.dashboard_state()["chart"]["stamp"]
    assert trained != first
    RetrainingRun.objects.filter(pk=run.pk).update(status="kept", active=None)
    kept = live.dashboard_state()["chart"]["stamp"]
    assert kept != trained
    Deployment.objects.create(model_name="m", version="1", source="rollback")
    assert live.dashboard_state()["chart"]["stamp"] != kept


def test_the_served_model_shows_only_its_own_metrics_even_from_an_old_row():
    Deployment.objects.create(
        model_name="m",
        version="4",
        source="registry",
        metrics={"accuracy": 0.97, "f1": 0.95, "seconds_check": 0.1, "champion_accuracy": 0.9, "mcnemar_p_value": 0.2},
        data_version={"path": "data/x.csv", "rev": "0123456789abcdef", "md5": "d41d8cd98f00", "rows": {"total": 9}},
    )
    served = live.dashboard_state()["served"]
    assert served["metrics"] == {"accuracy": 0.97, "f1": 0.95}
    assert (served["version"], served["source_label"]) == ("4", "Registry (alias moved in MLflow)")
    assert served["data"] == {"path": "data/x.csv", "rev": "0123456789", "md5": "d41d8cd98f00", "rows": 9}


@pytest.mark.parametrize(("value", "label"), [(0.02, "0.02 s"), (0.3, "0.30 s"), (4.25, "4.2 s"), (185.4, "3 min 5 s")])
def test_a_duration_reads_with_the_precision_its_size_needs(value, label):
    assert live.seconds(value) == label


def test_the_poll_costs_the_same_queries_whatever_the_history(client, staff_user, django_assert_num_queries):
    client.force_login(staff_user)
    for _ in range(30):
        finished_run("kept", challenger_metrics={"accuracy": 0.9})
    Deployment.objects.create(model_name="m", version="1", source="bootstrap")
    RetrainingRun.objects.create(trigger="manual", status="running", step="train")
    heartbeat_row("w1@host", timezone.now())
    store.current_policy(), TriggerSettings.current()  # made once, by the first look at them
    # session, user, newest runs, active run, newest deployment, serving processes, worker heartbeats,
    # newest drift check, policy, trigger settings, the served version's labels by (label, prediction)
    with django_assert_num_queries(11):
        body = client.get(reverse("panel-live")).json()
    assert len(body["recent"]) == live.RECENT_RUNS
    assert set(body) == {"run", "recent", "served", "workers", "chart", "monitoring"}


def test_a_deployment_made_by_moving_the_alias_by_hand_shows_only_model_metrics(client, staff_user, model_name):
    from mlflow import MlflowClient

    from demo import batches
    from predictor import services
    from tests.support.serving import BOOKKEEPING, MODEL_SCORES, log_annotated_version

    version = log_annotated_version(batches.demo_frame(1, "penguins"))
    MlflowClient().set_registered_model_alias(model_name, "champion", version)
    services.record_registry_move(version)
    client.force_login(staff_user)

    assert client.get(reverse("panel-live")).json()["served"]["metrics"] == MODEL_SCORES
    page = client.get(reverse("panel-dashboard")).content.decode()
    assert "Registry (alias moved in MLflow)" in page
    assert not [name for name in BOOKKEEPING if name in page]


def test_the_header_counts_the_live_workers():
    heartbeat_row("w1@host", timezone.now())
    assert header() == "1 worker alive"
    heartbeat_row("w2@host", timezone.now() - timedelta(seconds=3))
    heartbeat_row("gone@host", timezone.now() - timedelta(minutes=10))
    assert header() == "2 workers alive"
    assert live.workers_state(heartbeat.liveness(), None)["state"] == "alive"


def test_the_header_names_the_run_a_worker_is_running_with_a_link():
    run = RetrainingRun.objects.create(trigger="manual", status="running", step="train")
    heartbeat_row("w1@host", timezone.now(), running=retrain_task(run))
    state = live.workers_state(heartbeat.liveness(), run)
    assert state["parts"] == [
        {"text": "1 worker alive, running "},
        {"text": f"run #{run.pk}", "url": reverse("panel-run", args=[run.pk])},
    ]


def test_the_header_does_not_call_a_finished_run_running_while_the_heartbeat_still_lists_it():
    run = finished_run("skipped")
    heartbeat_row("w1@host", timezone.now(), running=retrain_task(run))
    assert header(active=None) == "1 worker alive"


def test_the_header_says_since_when_no_worker_is_alive():
    heartbeat_row("w1@host", MORNING.replace(hour=5, minute=2), stopped_at=MORNING.replace(hour=5, minute=2))
    heartbeat_row("w2@host", MORNING.replace(hour=4, minute=40))
    assert header(MORNING) == "no worker alive since 05:02: queued runs will wait"
    assert live.workers_state(heartbeat.liveness(MORNING), None)["state"] == "down"


def test_the_header_names_the_day_when_the_last_heartbeat_is_older_than_today():
    heartbeat_row("w1@host", MORNING - timedelta(hours=7))
    assert header(MORNING) == "no worker alive since Nov 28, 23:00: queued runs will wait"
    WorkerHeartbeat.objects.update(seen_at=MORNING - timedelta(days=9))
    assert header(MORNING) == "no worker alive since Nov 20, 06:00: queued runs will wait"


def test_the_header_says_when_no_worker_has_ever_reported():
    assert header() == "no worker has ever reported: queued runs will wait"
    assert live.workers_state(heartbeat.liveness(), None)["state"] == "never"


def test_the_header_says_queued_runs_wait_when_live_workers_skip_the_retrain_queue():
    heartbeat_row("light@host", timezone.now(), queues=["light"])
    assert header() == "1 worker alive, none on queue 'celery': queued runs will wait"


def test_the_header_says_a_live_worker_cut_off_from_its_broker_is_not_consuming():
    heartbeat_row("cut-off@host", timezone.now(), consuming=False)
    assert header() == "1 worker alive, not consuming (cannot reach its broker): queued runs will wait"
    assert live.workers_state(heartbeat.liveness(), None)["state"] == "down"
    heartbeat_row("w2@host", timezone.now())
    assert header() == "2 workers alive, 1 not consuming (cannot reach its broker)"


def test_a_run_queued_too_long_without_a_worker_says_why_in_its_card_and_its_row(settings):
    settings.RUN_STALL_ALERT_AFTER = 120
    heartbeat_row("w1@host", timezone.now() - timedelta(minutes=10), stopped_at=timezone.now() - timedelta(minutes=10))
    run = RetrainingRun.objects.create(trigger="manual")
    RetrainingRun.objects.filter(pk=run.pk).update(created_at=timezone.now() - timedelta(seconds=300))
    state = live.dashboard_state()

    reason = state["run"]["stalled"]
    assert "queued for 300 s and no live worker consumes queue 'celery' (last heartbeat" in reason
    assert state["recent"][0]["decision"] == {"kind": "stalled", "text": reason}
    assert state["workers"]["state"] == "down"


def test_a_run_queued_briefly_or_with_a_live_worker_is_not_stalled(settings):
    settings.RUN_STALL_ALERT_AFTER = 120
    RetrainingRun.objects.create(trigger="manual")
    state = live.dashboard_state()
    assert (state["run"]["stalled"], state["recent"][0]["decision"]["kind"]) == ("", "")
    RetrainingRun.objects.update(created_at=timezone.now() - timedelta(seconds=300))
    heartbeat_row("w1@host", timezone.now())
    assert live.dashboard_state()["run"]["stalled"] == ""


@pytest.mark.parametrize(
    "name", ["panel-dashboard", "panel-runs", "panel-deployments", "panel-monitoring", "panel-policy", "panel-schedule"]
)
def test_every_page_header_says_which_workers_are_alive(client, staff_user, name):
    client.force_login(staff_user)
    assert "no worker has ever reported: queued runs will wait" in client.get(reverse(name)).content.decode()
    heartbeat_row("w1@host", timezone.now())
    page = client.get(reverse(name)).content.decode()
    assert 'data-part="workers"' in page
    assert "1 worker alive" in page


def test_the_runs_page_shows_why_a_queued_run_waits(client, staff_user, settings):
    settings.RUN_STALL_ALERT_AFTER = 1
    run = RetrainingRun.objects.create(trigger="manual")
    RetrainingRun.objects.filter(pk=run.pk).update(created_at=timezone.now() - timedelta(seconds=30))
    client.force_login(staff_user)
    page = client.get(reverse("panel-runs")).content.decode()
    assert "no live worker consumes queue &#x27;celery&#x27; (no worker has ever reported)" in page


def test_a_stalled_runs_own_page_and_its_poll_say_why_it_waits(client, staff_user, settings):
    settings.RUN_STALL_ALERT_AFTER = 1
    run = RetrainingRun.objects.create(trigger="manual")
    RetrainingRun.objects.filter(pk=run.pk).update(created_at=timezone.now() - timedelta(seconds=30))
    client.force_login(staff_user)
    reason = client.get(reverse("panel-run-progress", args=[run.pk])).json()["stalled"]
    assert "no live worker consumes queue 'celery' (no worker has ever reported)" in reason
    page = client.get(reverse("panel-run", args=[run.pk])).content.decode()
    assert "no live worker consumes queue &#x27;celery&#x27; (no worker has ever reported)" in page
