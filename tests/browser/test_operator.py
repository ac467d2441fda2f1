"""The panel as an operator's tool, in Chromium under the Content-Security-Policy: cancel and force a
run from its page (each asks first, and is audited on the run), read its log, filter the runs, see
every data version, compare two runs (their holdouts' rows added and removed, their drift profiles)."""

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


def brief(mean: float, basic: float) -> dict:
    """A run's drift profile in brief, as the train step keeps it (ml/drift/profile.summarise)."""
    return {
        "rows": 200,
        "features": {
            "tenure": {"kind": "numeric", "rows": 200, "missing_share": 0.0, "mean": mean, "std": 5.0, "median": mean},
            "plan": {"kind": "categorical", "rows": 200, "missing_share": 0.0,
                     "shares": {"basic": basic, "pro": 1 - basic}},
        },
        "predictions": None,
    }  # fmt: skip


def test_two_models_are_compared_by_version_with_their_holdouts_and_drift_profiles(panel_server, browser_page):
    base, page = panel_server, browser_page
    made = {"trigger": "schedule", "status": "deployed", "active": None}
    first = RetrainingRun.objects.create(**made, model_version="1", profile=brief(12.0, 0.75))
    second = RetrainingRun.objects.create(
        **made,
        model_version="2",
        champion_version="1",
        champion_metrics={"accuracy": 0.8},
        challenger_metrics={"accuracy": 0.9},
        profile=brief(17.0, 0.5),
        holdout_exclusion={
            "clean": 500,
            "training_rows_vs_champion": {"champion": "1", "added": 1800, "removed": 0, "kept": 150},
            "holdout_rows_vs_champion": {"champion": "1", "added": 450, "removed": 0, "kept": 50},
        },
    )
    sign_in(page, base)

    page.goto(f"{base}/panel/runs/compare/")
    page.fill("[data-compare-form] input[name=a]", "v2")
    page.fill("[data-compare-form] input[name=b]", "v1")
    page.click("[data-compare-form] button[type=submit]")
    page.wait_for_selector("[data-drift-profiles] [data-profile-row]")

    assert {page.locator("[data-compare-side]").nth(i).get_attribute("data-compare-side") for i in (0, 1)} == {
        str(first.pk),
        str(second.pk),
    }
    assert "450 added, 0 removed, 50 kept" in page.inner_text("[data-holdout-changed]")
    tenure = page.inner_text("[data-profile-row=tenure]")
    assert "mean 12" in tenure
    assert "mean 17" in tenure
    assert "mean +5 (+1.00 sd)" in tenure
    assert "basic -25.0 pt" in page.inner_text("[data-profile-row=plan]")
    shot(page, "operator-compare-profiles")
