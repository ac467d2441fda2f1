"""The rest of the panel from a browser: sign-in, a run's page, rolling back, schedule and policy."""

import time

import pytest

from predictor.models import Deployment
from retraining.models import RetrainingRun
from tests.support.browser import served_version, shot, sign_in

pytestmark = pytest.mark.slow


def test_staff_sign_in_and_land_on_the_dashboard(panel_server, browser_page):
    Deployment.objects.create(model_name="churn", version="3", source="bootstrap", metrics={"accuracy": 0.7})
    page = browser_page
    page.goto(f"{panel_server}/panel/")
    assert "/panel/login/" in page.url
    shot(page, "login")
    sign_in(page, panel_server)
    assert page.text_content("[data-part=served] [data-served-version]") == "v3"
    assert page.text_content("[data-no-run]") == "No run yet. Press “Retrain now” to start the first one."
    assert not page.is_visible("[data-live] [data-run-status]")


def test_a_runs_page_explains_its_decision(panel_server, browser_page):
    run = RetrainingRun.objects.create(
        trigger="schedule",
        status="kept",
        active=None,
        steps=[{"name": "check", "status": "done", "duration": 0.1}],
        challenger_metrics={"accuracy": 0.88, "f1": 0.8},
        champion_metrics={"accuracy": 0.9, "f1": 0.82},
        decision_rule="min_improvement",
        reasons=["accuracy: challenger 0.8800 vs champion 0.9000 (-0.0200), strictly better: failed"],
    )
    page = browser_page
    sign_in(page, panel_server)
    page.click(f"[data-run-row='{run.pk}'] a")
    page.wait_for_url(f"{panel_server}/panel/runs/{run.pk}/")
    assert page.is_visible("table[data-metrics]")
    assert run.reasons[0] in page.text_content("body")
    shot(page, "run-page")


def test_staff_roll_back_and_every_serving_process_follows(two_deployments, staff_user, web, browser_page):
    page, (weak, strong) = browser_page, two_deployments
    assert served_version(web) == strong.version
    sign_in(page, web)
    page.click("text=Deployments")
    shot(page, "deployments")
    page.click(f"tr[data-deployment='{weak.pk}'] >> text=Roll back to this version")
    page.wait_for_url(f"{web}/panel/deployments/{weak.pk}/rollback/")
    shot(page, "rollback-confirm")
    page.fill("#id_reason", "checking the rollback from the browser")
    page.click(f"text=Yes, roll back to v{weak.version}")
    page.wait_for_selector(".messages .success")
    assert page.text_content("[data-served-version]") == f"v{weak.version}"

    deadline = time.monotonic() + 60
    while served_version(web) != weak.version:
        assert time.monotonic() < deadline, "gunicorn never switched to the rolled-back version"
        time.sleep(0.5)
    page.goto(f"{web}/panel/")
    page.wait_for_function(
        "() => document.querySelector('[data-served-processes]').textContent.startsWith('1 of 1')", timeout=30_000
    )
    shot(page, "dashboard-after-rollback")


def test_staff_pick_a_schedule_preset_and_read_the_policy(panel_server, browser_page):
    page = browser_page
    sign_in(page, panel_server)
    page.click("text=Schedule")
    page.check("input[name=preset][value=hourly]")
    assert page.input_value("input[name=cron]") == "0 * * * *"
    page.click("text=Save schedule")
    page.wait_for_selector(".messages .success")
    assert page.text_content("[data-cron]") == "0 * * * *"
    shot(page, "schedule")
    page.click("text=Policy")
    shot(page, "policy")
    page.goto(f"{panel_server}/panel/runs/")
    shot(page, "runs")
