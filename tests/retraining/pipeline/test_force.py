"""Training again on unchanged data: when the setup changed since the champion, or when forced
(from the command line, the API or the panel), audited on the run; otherwise skipped as before."""

import json
from io import StringIO

import pytest
from django.core.management import call_command

from predictor.models import Deployment
from predictor.serving import registry
from retraining.models import RetrainingRun
from retraining.pipeline import flow
from retraining.pipeline.training import SETUP_ARTIFACT
from retraining.runs import store
from retraining.runs.setup import TrainingSetup
from tests.support.pipeline import publish_batch, run_pipeline

pytestmark = pytest.mark.slow
Status = RetrainingRun.Status
TOKEN = "force-token-123"


def check_note(run: RetrainingRun) -> str:
    return next(step.get("detail", "") for step in run.steps if step["name"] == "check")


def test_the_champion_is_recorded_with_its_setup(good_champion):
    run = RetrainingRun.objects.get(deployment=good_champion)
    setup = TrainingSetup.deserialise(run.setup)

    traced = registry.model_version(run.model_version)
    assert traced.tags["retraining.setup_fingerprint"] == setup.fingerprint == run.setup_fingerprint
    recorded = json.loads(registry.read_artifact(run.model_version, SETUP_ARTIFACT))
    assert recorded == {"fingerprint": setup.fingerprint, "setup": run.setup}
    assert good_champion.data_version["setup_fingerprint"] == setup.fingerprint


def test_unchanged_data_and_setup_is_still_skipped(good_champion):
    run = run_pipeline()

    assert run.status == Status.SKIPPED
    assert run.reasons[0].startswith(f"no new data since version {good_champion.version}")


@pytest.mark.parametrize(
    "change",
    [{"EXCLUDE_COLUMNS": ["year"]}, {"TRAINING_ESTIMATOR": "decision_tree", "TRAINING_PARAMS": {"max_depth": 4}}],
)
def test_a_changed_setup_trains_again_on_unchanged_data_and_says_why(good_champion, settings, change):
    for name, value in change.items():
        setattr(settings, name, value)

    run = run_pipeline()

    assert run.status in (Status.DEPLOYED, Status.KEPT), (run.status, run.reasons, run.error)
    assert "train" in [step["name"] for step in run.steps]
    note = check_note(run)
    assert note.startswith(f"no new data since v{good_champion.version}, but the training setup changed (")
    assert note.endswith("): training again on the same data")
    assert run.forced == {}


def test_the_command_forces_a_run_on_unchanged_data_and_records_who_when_why(good_champion):
    out = StringIO()

    call_command("retrain", "--force", "--reason", "new sklearn", stdout=out)

    run = RetrainingRun.objects.order_by("-id").first()
    assert run.status in (Status.DEPLOYED, Status.KEPT), (run.status, run.reasons, run.error)
    assert out.getvalue().startswith(f"run #{run.pk} started (forced)")
    assert run.forced["by"].startswith("cli (")
    assert run.forced["why"] == "new sklearn"
    assert run.forced["at"]
    assert f"forced by {run.forced['by']} at {run.forced['at']}: new sklearn" in check_note(run)


def test_the_api_forces_a_run_and_names_the_token(client, db, settings):
    settings.RETRAIN_API_TOKEN = TOKEN
    auth = {"HTTP_AUTHORIZATION": f"Bearer {TOKEN}"}

    refused = client.post("/api/v1/runs", {"reason": "why not"}, content_type="application/json", **auth)
    assert refused.status_code == 400
    assert refused.json() == {"reason": ["a reason says why a run is forced: send it with force true"]}

    response = client.post(
        "/api/v1/runs", {"force": True, "reason": "new features"}, content_type="application/json", **auth
    )

    assert response.status_code == 201
    forced = response.json()["forced"]
    assert (forced["by"], forced["why"]) == ("the API token", "new features")
    assert RetrainingRun.objects.get().forced == forced


def test_the_panel_forces_a_run_and_names_the_person(client, staff_user, django_capture_on_commit_callbacks, settings):
    # Pages link their CSS through the manifest storage, which only `collectstatic` fills.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    client.force_login(staff_user)

    with django_capture_on_commit_callbacks(execute=False):
        client.post("/panel/retrain/", {"force": "on", "reason": "columns changed"})

    run = RetrainingRun.objects.get()
    assert (run.forced["by"], run.forced["why"]) == ("alice", "columns changed")
    page = client.get(f"/panel/runs/{run.pk}/").content.decode()
    assert "Forced by alice at " in page
    assert "columns changed" in page


def test_data_already_judged_is_judged_again_when_forced(good_champion, settings):
    publish_batch(2)
    settings.TRAINING_PARAMS = {"n_estimators": 1, "max_depth": 1}
    judged = run_pipeline()
    assert judged.status == Status.KEPT, (judged.status, judged.reasons)
    assert run_pipeline().status == Status.SKIPPED

    run, _ = store.start_run(RetrainingRun.Trigger.API, forced={"by": "alice", "at": "now", "why": "again"})
    run = flow.execute(run.pk)

    assert run.status == Status.KEPT
    assert check_note(run).startswith(f"{judged.dataset['md5']} was judged by run #{judged.pk} (kept); forced by alice")
    assert Deployment.objects.first() == good_champion
