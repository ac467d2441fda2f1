"""The header's worker health in a real browser: a run queued with no worker says so, and the page
follows a worker starting and stopping without a reload."""

import pytest

from retraining.models import RetrainingRun
from tests.support.browser import (
    assert_not_reloaded,
    mark_not_reloaded,
    shot,
    sign_in,
    stop,
    wait_until_settled,
)

pytestmark = pytest.mark.slow

WORKERS = "[data-part=workers]"


def header_says(page, text: str, seconds: float = 60) -> None:
    page.wait_for_function(
        "text => document.querySelector('[data-part=workers]').innerText.startsWith(text)",
        arg=text,
        timeout=seconds * 1000,
    )


def test_a_run_queued_with_no_worker_says_why_and_goes_on_when_one_starts(
    champion, staff_user, web, start_worker, browser_page
):
    page = browser_page
    sign_in(page, web)
    assert page.inner_text(WORKERS) == "no worker has ever reported: queued runs will wait"

    page.click("[data-retrain]")
    page.wait_for_selector(".messages .success")
    mark_not_reloaded(page)
    run = RetrainingRun.objects.get(trigger="manual")
    assert page.text_content(f"[data-run-row='{run.pk}'] .badge") == "Queued"
    # Past RUN_STALL_ALERT_AFTER (2 s here), the card and the run's row say why it waits.
    page.wait_for_selector("[data-run-stalled]:not([hidden])", timeout=15_000)
    stalled = page.text_content("[data-run-stalled]")
    assert "no live worker consumes queue 'celery' (no worker has ever reported)" in stalled
    assert page.text_content(f"[data-run-row='{run.pk}'] .stalled") == stalled
    assert page.inner_text(WORKERS) == "no worker has ever reported: queued runs will wait"
    shot(page, "header-no-worker-ever")
    # The run's own page, in a second window signed in as the same person, says the same and polls on its own.
    run_page = page.context.browser.new_page(viewport={"width": 1360, "height": 900})
    run_page.context.add_cookies(page.context.cookies())
    run_page.goto(f"{web}/panel/runs/{run.pk}/")
    run_page.wait_for_selector("[data-run-stalled]:not([hidden])", timeout=15_000)
    assert "no live worker consumes queue 'celery'" in run_page.text_content("[data-run-stalled]")
    assert run_page.inner_text(WORKERS) == "no worker has ever reported: queued runs will wait"

    worker = start_worker()
    header_says(page, "1 worker alive")
    wait_until_settled(page, run.pk)
    run.refresh_from_db()
    assert run.status == "skipped", (run.error, run.reasons)
    assert_not_reloaded(page)
    assert page.inner_text(WORKERS) == "1 worker alive"
    assert page.is_hidden("[data-run-stalled]")
    assert page.text_content("[data-live] [data-run-status]") == "Skipped (no new data)"
    shot(page, "header-worker-alive")
    run_page.wait_for_selector("[data-page-status]:text('Skipped (no new data)')", timeout=15_000)
    assert run_page.is_hidden("[data-run-stalled]")
    assert run_page.inner_text(WORKERS) == "1 worker alive"

    stop(worker)
    header_says(page, "no worker alive since ", seconds=20)
    assert_not_reloaded(page)
    assert page.inner_text(WORKERS).endswith(": queued runs will wait")
    shot(page, "header-no-worker-since")
