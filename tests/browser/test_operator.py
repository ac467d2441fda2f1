"""The panel as an operator's tool, in Chromium under the Content-Security-Policy: cancel and force a
run from its page (each asks first, and is audited on the run), read its log, filter the runs, see
every data version, compare two runs."""

import pytest

from retraining.models import RetrainingRun, RunLog
from retraining.runs import store
from tests.support.browser import shot, sign_in

pytestmark = pytest.mark.slow


def answer_dialogs(page, answers: list[bool]) -> list[str]:
    """Answers the page's confirmations in order; returns what each asked."""
    asked: list[str] = []

    def on_dialog(dialog) -> None:
        asked.append(dialog.message)
        dialog.accept() if answers.pop(0) else dialog.dismiss()

    page.on("dialog", on_dialog)
    return asked


def test_a_run_is_cancelled_from_its_page_only_once_confirmed(panel_server, browser_page):
    base, page = panel_server, browser_page
    run, _ = store.start_run(RetrainingRun.Trigger.CLI)
    sign_in(page, base)
    asked = answer_dialogs(page, [False, True])

    page.goto(f"{base}/panel/runs/{run.pk}/")
    page.click("[data-cancel-run]")
    page.wait_for_timeout(300)
    run.refresh_from_db()
    assert run.status == "queued"  # the first confirmation was refused

    page.click("[data-cancel-run]")
    page.wait_for_selector("[data-cancelled]")
    run.refresh_from_db()
    assert run.status == "cancelled"
    assert run.cancelled_by == "alice"
    assert asked[0].startswith(f"Cancel run #{run.pk}?")
    assert "Cancelled by alice" in page.inner_text("[data-cancelled]")
    shot(page, "operator-cancelled")


def test_a_finished_run_is_run_again_forced_from_its_page_with_the_reason_audited(panel_server, browser_page):
    base, page = panel_server, browser_page
    skipped = RetrainingRun.objects.create(trigger="schedule", status="skipped", active=None, reasons=["no new data"])
    sign_in(page, base)
    asked = answer_dialogs(page, [True])

    page.goto(f"{base}/panel/runs/{skipped.pk}/")
    page.fill("[data-force-again] input[name=reason]", "columns changed")
    page.click("[data-force-again] button")
    page.wait_for_url(f"{base}/panel/")

    again = RetrainingRun.objects.exclude(pk=skipped.pk).get()
    assert asked[0].startswith("Run again, forced?")
    assert again.forced["by"] == "alice"
    assert again.forced["why"] == f"again after run #{skipped.pk}: columns changed"
    store.cancel(again.pk, "the test")  # no worker here: leave nothing running


def test_the_log_and_the_filters_are_read_in_the_browser(panel_server, browser_page):
    base, page = panel_server, browser_page
    run = RetrainingRun.objects.create(
        trigger="api", status="failed", active=None, error="DVC remote unreachable", model_version="1"
    )
    skipped = RetrainingRun.objects.create(trigger="schedule", status="skipped", active=None, reasons=["no new data"])
    RunLog.objects.create(run=run, text="12:00:00 ERROR retraining.pipeline.flow: run failed\nTraceback ...\n")
    sign_in(page, base)

    page.goto(f"{base}/panel/runs/{run.pk}/")
    page.click("[data-run-log-link]")
    page.wait_for_selector("[data-run-log] pre.log")
    assert "Traceback" in page.inner_text("[data-run-log] pre.log")
    shot(page, "operator-log")

    page.goto(f"{base}/panel/runs/")
    page.fill("[data-run-filters] input[name=q]", "unreachable")
    page.click("[data-run-filters] button[type=submit]")
    page.wait_for_url("**/panel/runs/?*q=unreachable*")
    links = page.locator("table a[href^='/panel/runs/']")
    assert [links.nth(i).get_attribute("href") for i in range(links.count())] == [f"/panel/runs/{run.pk}/"]
    shot(page, "operator-filtered")

    run.dataset = {"md5": "f00dfeed", "rev": "abc", "path": "data/churn.csv", "size": 10}
    run.save(update_fields=["dataset"])
    page.click("nav a:has-text('Data')")
    page.wait_for_selector("[data-version=f00dfeed]")
    assert f"#{run.pk}" in page.inner_text("[data-version=f00dfeed]")
    shot(page, "operator-data-versions")

    page.goto(f"{base}/panel/runs/{skipped.pk}/")
    page.click("[data-compare-link]")
    page.wait_for_selector("[data-compare-side]")
    assert page.locator("[data-compare-side]").count() == 2
    shot(page, "operator-compare")
