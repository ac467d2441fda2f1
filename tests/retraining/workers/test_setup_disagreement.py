"""Workers report the fingerprint of their own training setup; when workers on one queue disagree,
GET /api/v1/workers and the panel header say so.

Runs on the suite's broker: the filesystem transport on the embedded defaults, Redis when
REDIS_URL is set (CI runs the suite both ways).
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from retraining.models import WorkerHeartbeat
from retraining.panel import live
from retraining.runs.setup import TrainingSetup
from retraining.workers import heartbeat
from tests.support.workers import wait_until

TOKEN = "workers-token-123"


def beating(hostname: str, fingerprint: str, queues: list[str] | None = None, seen: float = 0) -> None:
    now = timezone.now() - timedelta(seconds=seen)
    WorkerHeartbeat.objects.create(
        hostname=hostname,
        pid=1,
        queues=queues or ["celery"],
        started_at=now,
        seen_at=now,
        setup_fingerprint=fingerprint,
    )


def test_workers_that_agree_say_nothing(db):
    beating("a@host", "f" * 64)
    beating("b@host", "f" * 64)

    assert heartbeat.liveness().setup_disagreement == ""


def test_a_silent_worker_or_another_queue_is_no_disagreement(db, settings):
    beating("a@host", "f" * 64)
    beating("b@host", "0" * 64, seen=settings.WORKER_HEARTBEAT_TIMEOUT + 10)
    beating("c@host", "1" * 64, queues=["other"])

    assert heartbeat.liveness().setup_disagreement == ""


def test_workers_on_one_queue_that_disagree_are_named_in_the_api_and_the_header(client, db, settings):
    settings.RETRAIN_API_TOKEN = TOKEN
    beating("a@host", "a" * 64)
    beating("b@host", "b" * 64)

    body = client.get("/api/v1/workers", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").json()
    header = live.workers_state(heartbeat.liveness(), None)

    said = body["setup_disagreement"]
    assert said.startswith("workers on queue 'celery' disagree on the training setup (a@host aaaaaaaaaaaa; b@host bbbb")
    assert {w["hostname"]: w["setup_fingerprint"] for w in body["workers"]} == {"a@host": "a" * 64, "b@host": "b" * 64}
    assert said in "".join(part["text"] for part in header["parts"])


@pytest.mark.slow
def test_real_workers_with_different_settings_are_seen_to_disagree(start_pool_worker, transactional_db, settings):
    first = start_pool_worker({"n_estimators": 30})
    second = start_pool_worker({"n_estimators": 31})
    names = {first.name.replace("%h", ""), second.name.replace("%h", "")}

    def rows() -> list[WorkerHeartbeat]:
        return [r for r in WorkerHeartbeat.objects.all() if r.hostname.split("@")[0] + "@" in names]

    wait_until(lambda: len(rows()) == 2, 30, "both workers' heartbeats")

    settings.TRAINING_PARAMS = {"n_estimators": 30}
    expected = TrainingSetup.from_settings().fingerprint
    by_params = {r.setup_fingerprint for r in rows()}
    assert expected in by_params
    assert len(by_params) == 2
    said = heartbeat.liveness().setup_disagreement
    assert said.startswith(f"workers on queue {settings.RETRAIN_QUEUE!r} disagree on the training setup (")
    assert all(row.hostname in said for row in rows())
