"""The dashboard tells one truth while a run goes by, without a reload: card, steps, runs table,
served model and chart all change on the same poll."""

import pytest
from django.conf import settings

from demo import batches
from ml.gate import words
from retraining.models import RetrainingRun
from retraining.panel import live
from tests.support.browser import (
    UNFINISHED_WORDS,
    assert_not_reloaded,
    mark_not_reloaded,
    page_text,
    shot,
    sign_in,
    wait_until_settled,
)

pytestmark = pytest.mark.slow


def retrain_with_the_worker_stopped(page, name: str) -> RetrainingRun:
    """Presses "Retrain now" while no worker consumes, so the page is seen calling the run queued."""
    page.click("[data-retrain]")
    page.wait_for_selector(".messages .success")
    run = RetrainingRun.objects.get(trigger="manual")
    mark_not_reloaded(page)
    assert page.text_content("[data-run-title]") == "Run in progress"
    assert page.text_content(f"[data-run-row='{run.pk}'] .badge") == "Queued"
    shot(page, name)
    return run


def card_and_row(page, run: RetrainingRun) -> dict[str, str]:
    row = f"[data-run-row='{run.pk}']"
    return {
        "title": page.text_content("[data-run-title]"),
        "badge": page.text_content("[data-live] [data-run-status]"),
        "outcome": page.text_content("[data-run-outcome]"),
        "row": page.text_content(f"{row} .badge"),
        "duration": page.text_content(f"{row} td.num"),
    }


def assert_nothing_says_unfinished(page) -> None:
    text = page_text(page).lower()
    assert not [word for word in UNFINISHED_WORDS if word in text], text


def test_a_skipped_run_shows_its_outcome_everywhere_without_a_reload(
    champion, staff_user, web, start_worker, browser_page
):
    page = browser_page
    sign_in(page, web)
    run = retrain_with_the_worker_stopped(page, "dashboard-skip-queued")

    start_worker()
    wait_until_settled(page, run.pk)

    run.refresh_from_db()
    assert run.status == "skipped"
    assert_not_reloaded(page)
    shown = card_and_row(page, run)
    skipped = "Skipped (no new data)"
    assert (shown["title"], shown["badge"], shown["row"]) == ("Latest run", skipped, skipped)
    assert shown["outcome"] == f"Skipped (no new data): {run.reasons[0]}"
    assert shown["duration"] == live.seconds(run.duration)
    assert page.get_attribute("[data-step=check]", "data-status") == "stopped"
    assert page.get_attribute("[data-step=check]", "class") == "stopped neutral"  # not a warning's colour
    assert_nothing_says_unfinished(page)
    shot(page, "dashboard-skip-finished")


def test_a_run_that_trains_and_deploys_shows_its_outcome_everywhere_without_a_reload(
    weak_champion, demo_registry, staff_user, web, start_worker, browser_page
):
    page = browser_page
    batches.publish_next_demo_batch(demo_registry, settings.DATA_PATH)
    sign_in(page, web)
    assert page.text_content("[data-part=served] [data-served-version]") == f"v{weak_champion.version}"
    assert page.locator(".champion-point").count() == 1
    run = retrain_with_the_worker_stopped(page, "dashboard-deploy-queued")

    start_worker()
    seen = wait_until_settled(page, run.pk)

    run.refresh_from_db()
    assert run.status == "deployed", (run.error, run.reasons)
    assert_not_reloaded(page)
    assert any("running" in states and "done" in states for states in seen), f"the steps did not tick by: {seen}"
    shown = card_and_row(page, run)
    assert (shown["title"], shown["badge"], shown["row"]) == ("Latest run", "Deployed", "Deployed")
    # The decision's first reason, then which class the metrics are for (three classes: none).
    assert shown["outcome"].startswith(f"Deployed v{run.model_version}: {run.reasons[0]}")
    assert shown["outcome"].endswith("precision, recall and F1 are macro averages over the classes.")
    assert shown["duration"] == live.seconds(run.duration)
    said = words.decision(run.decision_rule, run.status, run.comparison)
    assert page.text_content(f"[data-run-row='{run.pk}'] [data-decision]") == said
    # The served model and the chart follow on the same poll.
    assert page.text_content("[data-part=served] [data-served-version]") == f"v{run.model_version}"
    assert f"v{run.model_version}" in page.text_content("[data-served-card]")
    # Both deployments, and the old champion's score on this run's holdout (the figure the decision compared).
    deployed = "document.querySelectorAll('.champion-point:not(.judged)').length === 2"
    judged = "document.querySelectorAll('.champion-point.judged').length === 1"
    page.wait_for_function(f"() => {deployed} && {judged}", timeout=5_000)
    page.wait_for_function(
        "() => document.querySelector('[data-served-processes]').textContent.startsWith('1 of 1')", timeout=30_000
    )
    assert_nothing_says_unfinished(page)
    shot(page, "dashboard-deploy-finished")


def test_the_first_poll_redraws_every_part_as_the_server_rendered_it(panel_server, browser_page):
    from datetime import timedelta

    from django.utils import timezone

    from predictor.models import Deployment, ServingProcess

    deployment = Deployment.objects.create(
        model_name="churn",
        version="2",
        source="registry",
        metrics={"accuracy": 0.9, "f1": 0.85, "seconds_check": 0.1},
        data_version={
            "path": "data/churn.csv",
            "rev": "0123456789abcdef",
            "md5": "d41d8cd98f00b204",
            "rows": {"total": 9},
        },
    )
    now = timezone.now()
    ServingProcess.objects.create(name="web:1", version="2", deployment=deployment, started_at=now, seen_at=now)
    ServingProcess.objects.create(name="web:2", version="1", error="could not load v2", started_at=now, seen_at=now)
    done = dict(active=None, started_at=now - timedelta(seconds=4), finished_at=now)
    RetrainingRun.objects.create(
        trigger="schedule", status="kept", decision_rule="min_improvement", model_version="3", **done
    )
    RetrainingRun.objects.create(trigger="api", status="failed", error="ValueError: bad data", **done)
    active = RetrainingRun.objects.create(
        trigger="manual", status="running", step="pull", steps=[{"name": "check", "status": "done", "duration": 0.2}]
    )
    page = browser_page
    from retraining.models import WorkerHeartbeat

    running = [{"task": "retraining.tasks.retrain", "id": "t-1", "run_id": active.pk, "started_at": None}]
    WorkerHeartbeat.objects.create(
        hostname="w1@host", pid=1, queues=["celery"], running=running, started_at=now, seen_at=now
    )
    parts = ["[data-live]", "[data-runs]", "[data-part=served]", "[data-served-card]", "[data-part=workers]"]
    with page.expect_response(lambda response: "live.json" in response.url, timeout=10_000):
        sign_in(page, panel_server)
        first = {part: page.inner_text(part) for part in parts}
    page.wait_for_timeout(200)
    assert {part: page.inner_text(part) for part in parts} == first
    assert "seconds_check" not in first["[data-served-card]"]
    assert first["[data-part=workers]"] == f"1 worker alive, running run #{active.pk}"
