"""Every page of the panel, the admin, the API docs and the browsable runs API in Chromium under the
Content-Security-Policy: nothing refused, nothing in the console, and the live dashboard, its charts
and the forms still work."""

import pytest
from django.contrib.auth import get_user_model

from predictor.models import Deployment
from tests.support import evidence
from tests.support.browser import shot, sign_in

pytestmark = pytest.mark.slow


def visit(page, url: str, ready: str) -> None:
    """Opens `url` and waits for what shows its scripts ran (`ready`), and for the network to rest."""
    page.goto(url)
    page.wait_for_selector(ready, state="attached")
    page.wait_for_load_state("networkidle")


def test_every_page_runs_under_the_policy_with_nothing_refused(
    drifting_champion, panel_server, browser_page, page_problems
):
    base, page = panel_server, browser_page
    run = evidence.kept_run()
    get_user_model().objects.filter(username="alice").update(is_superuser=True)

    # The pages anyone may open; Swagger UI lists the operations only once its start-up script ran.
    visit(page, f"{base}/api/docs/", ".opblock")
    visit(page, f"{base}/admin/login/", "#id_username")
    sign_in(page, base)

    # The Monitoring page's charts, and the champion's class mix bars.
    visit(page, f"{base}/panel/monitoring/", "[data-drift-chart] circle.series-point")
    assert page.locator("[data-volume-chart] rect.bar").count() > 0
    assert page.locator("svg.share-bar rect.served").count() > 0
    shot(page, "csp-monitoring")

    # The dashboard draws its chart, then follows a new deployment on its own poll, chart included.
    visit(page, f"{base}/panel/", "[data-chart] svg")
    points = page.locator("[data-chart] .champion-point").count()
    assert points >= 1
    Deployment.objects.create(model_name="m", version="99", source="pipeline", metrics={"accuracy": 0.97})
    page.wait_for_function(
        "() => document.querySelector('[data-part=served] [data-served-version]').textContent === 'v99'", timeout=20_000
    )
    page.wait_for_function("n => document.querySelectorAll('[data-chart] .champion-point').length > n", arg=points)
    shot(page, "csp-dashboard")
    champion = Deployment.objects.get(version=drifting_champion)

    for path, ready in [
        ("/panel/runs/", "[data-runs], table"),
        (f"/panel/runs/{run.pk}/", "[data-steps]"),
        ("/panel/deployments/", "table"),
        (f"/panel/deployments/{champion.pk}/rollback/", "form.confirm-form"),
        ("/panel/policy/", "form"),
        ("/admin/", "#content-main"),
        ("/admin/retraining/retrainingrun/", "#result_list"),
        (f"/admin/retraining/retrainingrun/{run.pk}/change/", "#content-main"),
        ("/admin/predictor/deployment/", "#result_list"),
        ("/api/v1/runs", ".response-info"),
        (f"/api/v1/runs/{run.pk}", ".response-info"),
    ]:
        visit(page, f"{base}{path}", ready)

    # A form the panel's script takes part in: a preset fills the cron field, and the form posts.
    visit(page, f"{base}/panel/schedule/", "input[name=cron]")
    page.check("input[name=preset][value=hourly]")
    assert page.input_value("input[name=cron]") == "0 * * * *"
    page.click("text=Save schedule")
    page.wait_for_selector(".messages .success")
    assert page.text_content("[data-cron]") == "0 * * * *"

    assert not page_problems.violations, page_problems.violations
    # Chromium asks every origin for /favicon.ico, which the product does not serve: not the page's doing.
    errors = [error for error in page_problems.errors if "/favicon.ico" not in error]
    assert not errors, errors
    assert not page_problems.unprotected, f"pages sent without a Content-Security-Policy: {page_problems.unprotected}"
