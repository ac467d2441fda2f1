"""Worker liveness: who is alive, when last heard of, what it runs; runs stalled without a worker."""

import socket
from datetime import timedelta

import pytest
from django.utils import timezone

from config.celery import app
from retraining import services
from retraining.models import RetrainingRun, WorkerHeartbeat
from retraining.workers import heartbeat
from retraining.workers.scheduler import Scheduler
from tests.support.pipeline import publish_batch
from tests.support.processes import free_port
from tests.support.redis import start_redis, stop_redis
from tests.support.workers import wait_until

TOKEN = "ci-secret-token-123"


@pytest.fixture(autouse=True)
def alerts(settings):
    settings.RETRAIN_API_TOKEN = TOKEN
    settings.NOTIFY_EMAILS = ["ops@example.com"]
    settings.WORKER_HEARTBEAT_TIMEOUT = 30
    settings.RUN_STALL_ALERT_AFTER = 120


def heartbeat_row(hostname: str, seconds_ago: float, **fields) -> WorkerHeartbeat:
    seen = timezone.now() - timedelta(seconds=seconds_ago)
    fields = {"pid": 4242, "queues": ["celery"], "running": [], **fields}
    started = seen - timedelta(hours=1)
    return WorkerHeartbeat.objects.create(hostname=hostname, started_at=started, seen_at=seen, **fields)


def queued_run(seconds_ago: float) -> RetrainingRun:
    run = RetrainingRun.objects.create(trigger=RetrainingRun.Trigger.API)
    RetrainingRun.objects.filter(pk=run.pk).update(created_at=timezone.now() - timedelta(seconds=seconds_ago))
    run.refresh_from_db()
    return run


def bearer() -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {TOKEN}"}


def test_it_tells_live_workers_from_silent_and_stopped_ones(db):
    running = [{"task": "retraining.tasks.retrain", "id": "t-1", "run_id": 7, "started_at": None}]
    heartbeat_row("busy@a", 3, running=running)
    heartbeat_row("silent@b", 300, running=running)
    heartbeat_row("stopped@c", 2, stopped_at=timezone.now())

    state = heartbeat.liveness()

    by_name = {worker.hostname: worker for worker in state.workers}
    assert [by_name[name].alive for name in ("busy@a", "silent@b", "stopped@c")] == [True, False, False]
    assert by_name["busy@a"].running == running
    assert by_name["silent@b"].running == []
    assert state.alive == 1
    assert state.retrain_queue_served
    assert state.as_dict()["workers"][0]["hostname"] == "stopped@c"


def test_a_live_worker_on_another_queue_does_not_serve_the_retrain_queue(db):
    heartbeat_row("light@a", 1, queues=["light"])
    assert not heartbeat.liveness().retrain_queue_served


def test_a_run_queued_too_long_without_a_live_worker_is_stalled(db):
    heartbeat_row("gone@a", 600)
    run = queued_run(300)
    state = heartbeat.liveness()

    reason = heartbeat.stalled_reason(run, state)

    assert "no live worker consumes queue 'celery'" in reason
    assert "last heartbeat" in reason
    run.created_at = timezone.now() - timedelta(seconds=10)
    assert heartbeat.stalled_reason(run, state) == ""
    heartbeat_row("back@b", 1)
    run.created_at = timezone.now() - timedelta(seconds=300)
    assert heartbeat.stalled_reason(run, heartbeat.liveness()) == ""


def test_a_stalled_run_is_notified_once(db, mailoutbox):
    run = queued_run(300)

    assert heartbeat.notify_stalled_runs() == [run.pk]
    assert heartbeat.notify_stalled_runs() == []

    assert len(mailoutbox) == 1
    assert f"run #{run.pk} is waiting for a worker" in mailoutbox[0].subject
    assert "no worker has ever reported" in mailoutbox[0].body


def test_beat_looks_for_stalled_runs_without_a_worker(transactional_db, mailoutbox):
    app.control.purge()
    queued_run(300)

    Scheduler(app=app).tick()

    assert len(mailoutbox) == 1


def test_the_runs_api_flags_a_stalled_run(client, db):
    run = queued_run(300)

    listed = client.get("/api/v1/runs", **bearer()).json()["results"][0]
    detail = client.get(f"/api/v1/runs/{run.pk}", **bearer()).json()

    assert listed["stalled"] is detail["stalled"] is True
    assert "no live worker" in detail["stalled_reason"]


def test_the_workers_api_lists_workers_for_staff_and_token_holders_only(client, db, regular_user):
    heartbeat_row(
        "busy@a", 1, running=[{"task": "retraining.tasks.retrain", "id": "t-1", "run_id": 3, "started_at": None}]
    )

    assert client.get("/api/v1/workers").status_code == 401
    client.force_login(regular_user)
    assert client.get("/api/v1/workers").status_code == 403
    body = client.get("/api/v1/workers", **bearer()).json()

    assert body["alive"] == 1
    assert body["retrain_queue_served"] is True
    assert body["workers"][0]["hostname"] == "busy@a"
    assert body["workers"][0]["running"][0]["run_id"] == 3


def test_a_live_worker_cut_off_from_its_broker_is_alive_but_not_consuming(client, db):
    heartbeat_row("cut-off@a", 1, consuming=False)

    state = heartbeat.liveness()
    body = client.get("/api/v1/workers", **bearer()).json()

    assert (state.workers[0].alive, state.workers[0].consuming) == (True, False)
    assert not state.retrain_queue_served
    assert (body["alive"], body["consuming"], body["retrain_queue_served"]) == (1, 0, False)
    assert body["workers"][0]["consuming"] is False
    run = queued_run(300)
    assert "1 live worker cannot reach its broker" in heartbeat.stalled_reason(run, state)


@pytest.fixture
def own_redis(tmp_path):
    """Starts a redis-server of the test's own on a port (again after `stop_redis`); every one is gone after."""
    started = []

    def start(port: int):
        started.append(start_redis(tmp_path, "--port", str(port)))
        return started[-1]

    yield start
    for server in started:
        stop_redis(server)


@pytest.mark.slow
def test_a_worker_whose_broker_goes_away_is_listed_as_not_consuming_until_it_is_back(
    transactional_db, client, own_redis, start_pool_worker
):
    port = free_port()
    redis = own_redis(port)
    worker = start_pool_worker({}, REDIS_URL=f"redis://127.0.0.1:{port}/0")
    hostname = worker.name.replace("%h", socket.gethostname())

    def listed() -> dict:
        body = client.get("/api/v1/workers", **bearer()).json()
        return next((w for w in body["workers"] if w["hostname"] == hostname), {})

    assert wait_until(lambda: listed().get("consuming") is True, 30, f"the worker to consume ({worker.log})")
    stop_redis(redis)
    wait_until(lambda: listed().get("consuming") is False, 30, f"the worker to notice ({worker.log})")
    assert listed()["alive"] is True
    assert not heartbeat.liveness().retrain_queue_served

    own_redis(port)
    wait_until(lambda: listed().get("consuming") is True, 60, f"the worker to consume again ({worker.log})")


@pytest.mark.slow
def test_a_worker_reports_its_run_and_a_stalled_run_goes_on_when_a_worker_is_back(
    weak_champion, start_pool_worker, settings, django_capture_on_commit_callbacks
):
    settings.RUN_STALL_ALERT_AFTER = 1
    publish_batch(2)
    with django_capture_on_commit_callbacks(execute=True):
        run, _ = services.trigger_run(RetrainingRun.Trigger.API)
    wait_until(lambda: heartbeat.notify_stalled_runs(), 10, "the run to be stalled")

    worker = start_pool_worker({"n_estimators": 2000})
    assert heartbeat.liveness().retrain_queue_served
    running = wait_until(
        lambda: [task for w in heartbeat.liveness().workers for task in w.running], 60, f"a running task ({worker.log})"
    )

    assert running[0]["run_id"] == run.pk
    assert running[0]["task"] == "retraining.tasks.retrain"
    # The pool process holding it: what lets a worker on another machine tell it from a dead one.
    assert running[0]["pid"] == worker.pool_process().pid
    wait_until(lambda: RetrainingRun.objects.get(pk=run.pk).finished, 180, f"run #{run.pk} to finish ({worker.log})")
    assert RetrainingRun.objects.get(pk=run.pk).status == RetrainingRun.Status.DEPLOYED
    worker.stop()
    assert heartbeat.liveness().alive == 0
