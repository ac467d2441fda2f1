"""People read sentences: the Decision column, the run page, the policy card, the notifications and
the API's display fields say the gate's and the rules' names in one vocabulary (ml/gate/words.py);
the rule codes stay in the API."""

import html
import re
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from ml.gate import words
from predictor.models import Deployment
from retraining.models import RetrainingRun
from retraining.notify import channels
from retraining.panel import selectors
from retraining.runs import store
from tests.support import evidence

pytestmark = pytest.mark.django_db
RULE_CODES = ("first_model", "bootstrap", "min_improvement")


@pytest.fixture(autouse=True)
def plain_static_files(settings) -> None:
    """Pages link their CSS through the manifest storage, which only `collectstatic` fills."""
    plain = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
    settings.STORAGES = {**settings.STORAGES, "staticfiles": plain}


@pytest.fixture
def staff(client, staff_user) -> Client:
    client.force_login(staff_user)
    return client


def decided(status: str, rule: str, seconds: float = 0.02, **fields) -> RetrainingRun:
    started = timezone.now() - timedelta(minutes=1)
    return RetrainingRun.objects.create(
        trigger="schedule",
        status=status,
        active=None,
        decision_rule=rule,
        started_at=started,
        finished_at=started + timedelta(seconds=seconds),
        **fields,
    )


def text(page: str) -> str:
    return html.unescape(" ".join(re.sub(r"<[^>]+>", " ", page).split()))


def test_the_decision_column_shows_sentences_not_rule_codes(staff):
    decided("deployed", "first_model")
    decided("deployed", "bootstrap", comparison=evidence.COMPARISON)
    decided("kept", "min_improvement")

    page = staff.get(reverse("panel-runs")).content.decode()

    for code in RULE_CODES:
        assert f"<code>{code}</code>" not in page
    shown = text(page)
    assert "First model: its score met the policy's minimum" in shown
    assert "Better, and the paired randomization test says the gain is not noise" in shown
    assert "Not better than the champion by the gain the policy asks" in shown
    assert "bootstrap" not in shown


def test_the_gate_has_the_name_of_the_test_that_decides_it_everywhere(staff):
    store.current_policy()  # the default policy: the paired test
    dashboard = text(staff.get(reverse("panel-dashboard")).content.decode())
    policy_page = staff.get(reverse("panel-policy")).content.decode()

    assert "Paired bootstrap" not in dashboard
    assert "Paired bootstrap" not in policy_page
    assert "Paired randomization test" in dashboard
    assert ">Paired randomization test (any metric; DeLong for ROC AUC, t-test for errors)</option>" in policy_page
    # The name the reason gives is the gate's name.
    assert evidence.COMPARISON["p_method"] == words.GATES["bootstrap"]


def test_the_run_page_says_the_decision_the_policy_in_labelled_values_and_the_duration_as_the_list_does(staff):
    run = decided(
        "kept",
        "min_improvement",
        policy={"id": 3, "primary_metric": "accuracy", "return_significance": 0.001, "reject_on_drift": False},
        reasons=["accuracy: challenger 0.9500 vs champion 0.9700 (-0.0200), needs strictly better"],
    )

    page = staff.get(reverse("panel-run", args=[run.pk])).content.decode()
    listed = text(staff.get(reverse("panel-runs")).content.decode())

    shown = text(page)
    assert "Not better than the champion by the gain the policy asks" in shown
    assert "<code>min_improvement</code>" not in page
    assert "Significance level to bring back a replaced model 0.001" in shown
    assert "Reject new data that drifted no" in shown
    assert "return_significance" not in page
    assert "reject_on_drift" not in page
    assert "took 0.02 s" in shown
    assert "0.02 s" in listed


def test_a_step_that_ended_a_skipped_run_is_neutral_not_a_warning(staff):
    run = decided("skipped", "", steps=[{"name": "check", "status": "stopped", "duration": 0.02, "detail": "no new"}])

    (check, *_) = selectors.progress(run)["steps"]
    page = staff.get(reverse("panel-run", args=[run.pk])).content.decode()

    assert (check["status"], check["tone"]) == ("stopped", "neutral")
    assert 'class="stopped neutral" data-step="check"' in page


def test_the_notification_says_the_decision_in_words(db):
    run = decided("deployed", "bootstrap", comparison=evidence.COMPARISON, reasons=["accuracy: passed"])

    _, body = channels.summary(run)

    assert "Decision: Better, and the paired randomization test says the gain is not noise" in body
    assert "(bootstrap)" not in body


def test_the_api_keeps_the_rule_code_and_gives_the_sentence_beside_it(client, staff_user):
    run = decided("kept", "first_model")
    client.force_login(staff_user)

    one = client.get(f"/api/v1/runs/{run.pk}").json()
    listed = client.get("/api/v1/runs").json()["results"][0]

    assert one["decision_rule"] == listed["decision_rule"] == "first_model"
    assert one["decision"] == listed["decision"] == "First model: its score did not meet the policy's minimum"


def test_a_pipeline_deployment_names_the_pipeline_gives_one_line_and_links_to_its_run_and_mlflow(staff, settings):
    settings.MLFLOW_UI_URL = "http://mlflow.example:5000"
    newcomer = get_user_model().objects.create_user("newcomer")
    long_reason = "; ".join(f"reason number {k} of the decision, with its figures" for k in range(15))
    deployment = Deployment.objects.create(
        model_name="m", version="2", source="pipeline", created_by=newcomer, reason=long_reason
    )
    run = decided("deployed", "bootstrap", comparison=evidence.COMPARISON, triggered_by=newcomer, deployment=deployment)
    by_hand = Deployment.objects.create(model_name="m", version="1", source="registry", reason="alias moved")

    page = staff.get(reverse("panel-deployments")).content.decode()

    # Newest first: the registry's change, then the pipeline's.
    row = page[page.index(f'data-deployment="{deployment.pk}"') :]
    assert re.search(r"<td data-actor>the pipeline <span[^>]*>\(run started by newcomer\)</span>", row)
    assert "by newcomer" not in text(row).replace("started by newcomer", "")
    reason = re.search(r"<span data-reason>([^<]*)</span>", row).group(1)
    assert reason == "Better, and the paired randomization test says the gain is not noise"
    assert f'href="{reverse("panel-run", args=[run.pk])}"' in row
    assert 'href="http://mlflow.example:5000/#/models/' in row
    assert "/versions/2" in row
    rest = page[page.index(f'data-deployment="{by_hand.pk}"') : page.index(f'data-deployment="{deployment.pk}"')]
    assert "<td data-actor>the registry (alias moved in MLflow)" in rest
