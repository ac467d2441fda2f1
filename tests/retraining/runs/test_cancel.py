"""Cancelling a run: a queued run is closed at once, a running one stops at its next step or inside
an interruptible one, the champion is untouched, and no recovery queues a cancelled run again."""

import time
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from demo.batches import demo_frame
from retraining import services, tasks
from retraining.models import RetrainingRun
from retraining.pipeline import flow
from retraining.runs import ownership, store
from tests.support.in_memory import MemorySource, memory_resources

Status = RetrainingRun.Status
TOKEN = "cancel-token-123"


@pytest.fixture(autouse=True)
def api_token(settings):
    settings.RETRAIN_API_TOKEN = TOKEN
    settings.DEMO_DATASET = "penguins"
    settings.TARGET_COLUMN = "species"


def bearer() -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {TOKEN}"}


def queued() -> RetrainingRun:
    run, created = store.start_run(RetrainingRun.Trigger.API)
    assert created
    return run


def test_a_queued_run_is_closed_at_once_and_blocks_nothing(client, db):
    run = queued()

    response = client.post(f"/api/v1/runs/{run.pk}/cancel", **bearer())

    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["cancelled_by"]) == ("cancelled", "the API token")
    run.refresh_from_db()
    assert run.status == Status.CANCELLED
    assert run.finished
    assert run.cancel_requested_at is not None
    assert run.reasons[0].startswith("cancelled by the API token at ")
    assert run.reasons[0].endswith("before any worker started it; nothing was run")
    assert store.start_run(RetrainingRun.Trigger.API)[1]


def test_its_message_arriving_later_runs_nothing_and_queues_nothing(db):
    run = queued()
    store.cancel(run.pk, "alice")

    assert tasks.retrain.apply(args=[run.pk]).get() == Status.CANCELLED

    assert RetrainingRun.objects.count() == 1
    assert RetrainingRun.objects.get(pk=run.pk).status == Status.CANCELLED


def test_a_staff_session_may_cancel_and_is_named(client, staff_user):
    client.force_login(staff_user)
    run = queued()

    assert client.post(f"/api/v1/runs/{run.pk}/cancel").status_code == 200

    assert RetrainingRun.objects.get(pk=run.pk).cancelled_by == "alice"


def test_who_may_not_cancel_and_what_cannot_be_cancelled(client, regular_user):
    run = queued()
    assert client.post(f"/api/v1/runs/{run.pk}/cancel").status_code == 401
    client.force_login(regular_user)
    assert client.post(f"/api/v1/runs/{run.pk}/cancel").status_code == 403
    client.logout()
    assert client.post(f"/api/v1/runs/{run.pk + 100}/cancel", **bearer()).status_code == 404
    assert RetrainingRun.objects.get(pk=run.pk).status == Status.QUEUED

    store.finish(run, Status.KEPT)
    response = client.post(f"/api/v1/runs/{run.pk}/cancel", **bearer())

    assert response.status_code == 409
    assert response.json()["detail"] == f"run #{run.pk} has already ended (kept): nothing to cancel"
    assert RetrainingRun.objects.get(pk=run.pk).status == Status.KEPT


def test_the_command_cancels_and_names_what_it_cannot(db):
    run = queued()
    out = StringIO()

    call_command("cancel_run", str(run.pk), stdout=out)

    assert out.getvalue().startswith(f"run #{run.pk} cancelled: cancelled by cli (")
    assert RetrainingRun.objects.get(pk=run.pk).cancelled_by.startswith("cli (")
    ended = queued()
    store.finish(ended, Status.DEPLOYED)
    with pytest.raises(CommandError, match=rf"run #{ended.pk} has already ended \(deployed\): nothing to cancel"):
        call_command("cancel_run", str(ended.pk))
    with pytest.raises(CommandError, match=f"there is no run #{ended.pk + 100}"):
        call_command("cancel_run", str(ended.pk + 100))


def test_a_running_run_is_asked_to_stop_and_stops_before_its_next_step(client, transactional_db):
    run = queued()
    resources = memory_resources(demo_frame(1))
    answers = []

    class CancelledDuringCheck(MemorySource):
        def version(self):
            answers.append(client.post(f"/api/v1/runs/{run.pk}/cancel", **bearer()))
            return super().version()

    resources = resources.__class__(**{**resources.__dict__, "source": CancelledDuringCheck(demo_frame(1))})

    done = flow.execute(run.pk, resources=resources)

    assert answers[0].status_code == 202
    assert answers[0].json()["status"] == "running"
    assert done.status == Status.CANCELLED
    assert done.finished
    assert [(step["name"], step["status"]) for step in done.steps][:1] == [("check", "done")]
    assert "pull" not in [step["name"] for step in done.steps if step["name"] != "notify"]
    assert done.reasons[0].startswith("cancelled by the API token at ")
    assert done.reasons[0].endswith("before step 'pull'; nothing was deployed")
    assert resources.deployments.served == []
    assert resources.models.models == {}


def test_an_interruptible_step_is_stopped_at_once(transactional_db, settings):
    settings.RUN_HEARTBEAT_INTERVAL = 0.1
    run = queued()
    resources = memory_resources(demo_frame(1))

    class SlowPull(MemorySource):
        def pull(self, version):
            store.cancel(run.pk, "alice")
            for _ in range(600):  # a minute of work, in Python
                time.sleep(0.1)
            return super().pull(version)

    resources = resources.__class__(**{**resources.__dict__, "source": SlowPull(demo_frame(1))})
    started = time.monotonic()

    done = flow.execute(run.pk, resources=resources)

    assert time.monotonic() - started < 10
    assert done.status == Status.CANCELLED
    assert ("pull", "cancelled") in [(step["name"], step["status"]) for step in done.steps]
    assert done.reasons[0].startswith("cancelled by alice at ")
    assert done.reasons[0].endswith("during step 'pull'; nothing was deployed")
    assert resources.deployments.served == []


def test_a_cancelled_run_whose_process_died_is_not_queued_again(db, dead_process):
    run = queued()
    assert store.claim(run.pk, {**ownership.here("pool-test@host"), **dead_process})
    store.cancel(run.pk, "alice")

    assert services.recover(run.pk) is None

    run.refresh_from_db()
    assert run.status == Status.CANCELLED
    assert run.requeued_as is None
    assert RetrainingRun.objects.count() == 1


def test_a_cancelled_run_a_stop_closed_is_not_queued_again(db):
    run = queued()
    assert store.claim(run.pk)
    store.cancel(run.pk, "alice")
    store.finish(run, Status.FAILED, error="stopped", stopped_by_signal="SIGTERM")

    assert services.requeue_stopped_runs() == []
    assert RetrainingRun.objects.count() == 1


def test_a_cancelled_run_is_not_put_back_for_a_retry(db):
    run = queued()
    assert store.claim(run.pk)
    store.cancel(run.pk, "alice")

    assert not store.requeue(run.pk, "MLflow unreachable, attempt 2 of 5")
    assert RetrainingRun.objects.get(pk=run.pk).status == Status.RUNNING


def test_a_stale_cancelled_run_is_closed_as_cancelled(db, settings):
    run = queued()
    assert store.claim(run.pk)
    store.cancel(run.pk, "alice")
    long_ago = timezone.now() - timedelta(seconds=settings.RUN_HEARTBEAT_TIMEOUT + 5)
    RetrainingRun.objects.filter(pk=run.pk).update(heartbeat_at=long_ago)

    assert store.close_stale_runs() == [run.pk]
    assert RetrainingRun.objects.get(pk=run.pk).status == Status.CANCELLED


def test_the_panel_cancels_from_the_run_page_and_names_the_person(client, staff_user, settings):
    # Pages link their CSS through the manifest storage, which only `collectstatic` fills.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    client.force_login(staff_user)
    run = queued()
    assert "data-cancel-run" in client.get(f"/panel/runs/{run.pk}/").content.decode()

    response = client.post(f"/panel/runs/{run.pk}/cancel/")

    assert response.status_code == 302
    run.refresh_from_db()
    assert (run.status, run.cancelled_by) == (Status.CANCELLED, "alice")
    page = client.get(f"/panel/runs/{run.pk}/").content.decode()
    assert "Cancelled by alice at " in page
    assert "data-cancel-run" not in page


def test_a_foreground_run_cancelled_from_elsewhere_exits_non_zero_naming_who(db, monkeypatch):
    def cancelled_meanwhile(run_id, **options):
        store.cancel(run_id, "bob")
        store.claim(run_id)
        return RetrainingRun.objects.get(pk=run_id)

    monkeypatch.setattr("retraining.pipeline.flow.execute", cancelled_meanwhile)

    with pytest.raises(CommandError, match=r"run #\d+ cancelled: cancelled by bob at .* before any worker started it"):
        call_command("retrain", stdout=StringIO())
