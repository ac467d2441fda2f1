"""People read sentences in the browser: the runs' Decision column, the run page and the
Deployments page, with no rule code in sight."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from predictor.models import Deployment
from retraining.models import RetrainingRun
from tests.support import evidence
from tests.support.browser import shot, sign_in

pytestmark = pytest.mark.slow


def test_the_runs_the_run_page_and_the_deployments_speak_in_sentences(panel_server, browser_page):
    newcomer = get_user_model().objects.create_user("newcomer")
    deployment = Deployment.objects.create(
        model_name="m", version="2", source="pipeline", created_by=newcomer, reason="; ".join(["a reason"] * 15)
    )
    started = timezone.now() - timedelta(minutes=5)
    run = RetrainingRun.objects.create(
        trigger="manual", status="deployed", active=None, triggered_by=newcomer, deployment=deployment,
        decision_rule="bootstrap", comparison=evidence.COMPARISON, model_version="2",
        policy={"id": 1, "test": "bootstrap", "return_significance": 0.001, "reject_on_drift": False},
        steps=[{"name": "check", "status": "done", "duration": 0.02}],
        started_at=started, finished_at=started + timedelta(seconds=0.02),
    )  # fmt: skip
    page = browser_page
    sign_in(page, panel_server)
    said = "Better, and the paired randomization test says the gain is not noise"

    page.goto(f"{panel_server}/panel/runs/")
    assert page.text_content(f"[data-run-row='{run.pk}'] [data-decision]") == said
    assert page.locator("[data-runs] code").count() == 0

    page.goto(f"{panel_server}/panel/runs/{run.pk}/")
    assert page.text_content("[data-decision]").strip() == said
    body = page.text_content("main")
    assert "took 0.02 s" in body
    assert "Significance level to bring back a replaced model" in body
    assert "return_significance" not in body
    assert "Paired randomization test" in body

    page.goto(f"{panel_server}/panel/deployments/")
    row = f"[data-deployment='{deployment.pk}']"
    assert page.text_content(f"{row} [data-actor]") == "the pipeline (run started by newcomer)"
    assert page.text_content(f"{row} [data-reason]") == said
    page.click(f"{row} [data-run-link]")
    page.wait_for_url(f"{panel_server}/panel/runs/{run.pk}/")
    shot(page, "words-run-page")
