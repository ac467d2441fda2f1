"""The control panel: who may see it, Retrain now, runs, policy and schedule forms."""

import html
import re

import pytest
from django.test import Client
from django.urls import reverse
from django_celery_beat.models import PeriodicTask

from retraining.models import PromotionPolicy, RetrainingRun
from retraining.runs import store
from retraining.workers import schedule
from tests.support import evidence

STATIC_BACKEND = "django.contrib.staticfiles.storage.StaticFilesStorage"
PAGES = [
    "panel-dashboard",
    "panel-runs",
    "panel-deployments",
    "panel-monitoring",
    "panel-data",
    "panel-policy",
    "panel-schedule",
    "panel-live",
]


@pytest.fixture(autouse=True)
def plain_static_files(settings) -> None:
    """Pages link their CSS through the manifest storage, which only `collectstatic` fills."""
    settings.STORAGES = {**settings.STORAGES, "staticfiles": {"BACKEND": STATIC_BACKEND}}


@pytest.fixture
def staff(client, staff_user) -> Client:
    client.force_login(staff_user)
    return client


@pytest.fixture
def csrf_staff(staff_user) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff_user)
    return client


def token(client: Client, url: str) -> str:
    page = client.get(url).content.decode()
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)


@pytest.mark.parametrize("name", PAGES)
def test_it_sends_anonymous_people_to_the_login_page(client, db, name):
    response = client.get(reverse(name))
    assert response.status_code == 302
    assert response["Location"].startswith("/panel/login/?next=")


@pytest.mark.parametrize("name", PAGES)
def test_it_refuses_people_without_staff_status(client, regular_user, name):
    client.force_login(regular_user)
    assert client.get(reverse(name)).status_code == 403


@pytest.mark.parametrize("name", PAGES)
def test_it_shows_every_page_to_staff(staff, name):
    assert staff.get(reverse(name)).status_code == 200


def test_it_refuses_run_pages_and_posts_to_non_staff(client, regular_user):
    run = RetrainingRun.objects.create(trigger="api")
    client.force_login(regular_user)
    assert client.get(reverse("panel-run", args=[run.pk])).status_code == 403
    assert client.get(reverse("panel-run-progress", args=[run.pk])).status_code == 403
    assert client.post(reverse("panel-retrain")).status_code == 403
    assert RetrainingRun.objects.count() == 1


def test_the_login_page_signs_staff_in_and_sends_them_to_the_panel(client, staff_user):
    page = client.get(reverse("panel-login"))
    assert b"Sign in" in page.content
    response = client.post(reverse("panel-login"), {"username": "alice", "password": "pw-alice-123"})
    assert response["Location"] == reverse("panel-dashboard")
    wrong = client.post(reverse("panel-login"), {"username": "alice", "password": "nope"})
    assert b"Please enter a correct username and password" in wrong.content


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("panel-retrain", {}),
        ("panel-policy", {"primary_metric": "f1", "min_improvement": "0", "max_guard_drop": "0.01",
                          "test": "bootstrap", "significance": "0.05", "return_significance": "0.01",
                          "min_first_score": "0.5"}),
        ("panel-schedule", {"enabled": "on", "preset": "hourly"}),
        ("panel-triggers", {"degradation_margin": "0.1", "min_labels": "10", "cooldown_hours": "2",
                            "min_label_sources": "2", "min_label_share": "0.01"}),
    ],
)  # fmt: skip
def test_every_post_needs_the_csrf_token(csrf_staff, name, data):
    before = (RetrainingRun.objects.count(), PromotionPolicy.objects.count(), schedule.schedule_state().expression)
    assert csrf_staff.post(reverse(name), data).status_code == 403
    after = (RetrainingRun.objects.count(), PromotionPolicy.objects.count(), schedule.schedule_state().expression)
    assert after == before
    data = {**data, "csrfmiddlewaretoken": token(csrf_staff, reverse("panel-dashboard"))}
    assert csrf_staff.post(reverse(name), data).status_code == 302


def test_a_double_click_on_retrain_now_starts_one_run(csrf_staff, django_capture_on_commit_callbacks):
    csrf = token(csrf_staff, reverse("panel-dashboard"))
    with django_capture_on_commit_callbacks() as enqueued:
        first = csrf_staff.post(reverse("panel-retrain"), {"csrfmiddlewaretoken": csrf}, follow=True)
        second = csrf_staff.post(reverse("panel-retrain"), {"csrfmiddlewaretoken": csrf}, follow=True)
    run = RetrainingRun.objects.get()
    assert run.trigger == "manual"
    assert run.triggered_by.username == "alice"
    assert len(enqueued) == 1
    assert f'Started <a href="/panel/runs/{run.pk}/">run #{run.pk}</a>' in first.content.decode()
    assert f'A run is already in progress: <a href="/panel/runs/{run.pk}/">run #{run.pk}</a>' in (
        second.content.decode()
    )


def test_retrain_now_only_answers_posts(staff):
    assert staff.get(reverse("panel-retrain")).status_code == 405
    assert not RetrainingRun.objects.exists()


def test_the_live_endpoint_reports_the_active_runs_steps(staff):
    run = RetrainingRun.objects.create(
        trigger="manual",
        status="running",
        step="pull",
        steps=[{"name": "check", "status": "done", "duration": 0.2, "detail": "new data"},
               {"name": "pull", "status": "running"}],
    )  # fmt: skip
    body = staff.get(reverse("panel-live")).json()
    assert body["run"]["id"] == run.pk
    assert [s["status"] for s in body["run"]["steps"]][:3] == ["done", "running", "pending"]
    assert body["run"]["finished"] is False
    assert body["served"]["version"] is None
    one = staff.get(reverse("panel-run-progress", args=[run.pk])).json()
    assert one["steps"][0]["detail"] == "new data"


def test_a_finished_runs_page_explains_the_decision(staff):
    run = RetrainingRun.objects.create(
        trigger="schedule",
        status="kept",
        active=None,
        steps=[{"name": "check", "status": "done", "duration": 0.1}],
        dataset={"path": "data/penguins.csv", "rev": "abcdef1234567", "md5": "d41d8cd9"},
        rows={"total": 275, "train": 206, "holdout": 69},
        estimator="random_forest",
        params={"n_estimators": 100},
        policy={"primary_metric": "accuracy", "min_improvement": 0.0},
        model_version="3",
        champion_version="2",
        challenger_metrics={"accuracy": 0.95, "f1": 0.94},
        champion_metrics={"accuracy": 0.97, "f1": 0.96},
        decision_rule="min_improvement",
        reasons=["accuracy: challenger 0.9500 vs champion 0.9700 (-0.0200), needs strictly better"],
        p_value=0.3125,
        notifications={"slack": "failed: HTTP 500"},
    )
    page = staff.get(reverse("panel-run", args=[run.pk])).content.decode()
    for shown in (
        "Kept champion",
        "Not better than the champion by the gain the policy asks",
        "needs strictly better",
        "0.3125",
        "-0.0200",
        "275 total",
        "n_estimators=100",
        "abcdef1234",
        "failed: HTTP 500",
        "Champion v2",
        "Challenger v3",
    ):
        assert shown in page, shown  # fmt: skip


def test_a_kept_runs_page_shows_the_excluded_rows_the_interval_the_p_value_and_the_detectable_gain(staff):
    run = RetrainingRun.objects.create(
        trigger="schedule",
        status="kept",
        active=None,
        decision_rule="bootstrap",
        reasons=["not significant"],
        p_value=evidence.COMPARISON["p_value"],
        comparison=evidence.COMPARISON,
        holdout_exclusion=evidence.EXCLUSION,
        challenger_metrics={"accuracy": 0.95},
        champion_metrics={"accuracy": 0.93},
    )

    page = staff.get(reverse("panel-run", args=[run.pk])).content.decode()

    for shown in (*evidence.SAID, "108 of 120 rows compared", "[-0.0093, 0.0463]", "108 rows neither trained on"):
        assert shown in page, shown


def test_the_runs_table_filters_by_outcome_and_trigger(staff):
    RetrainingRun.objects.create(trigger="schedule", status="kept", active=None)
    RetrainingRun.objects.create(trigger="manual", status="deployed", active=None)
    RetrainingRun.objects.create(trigger="schedule", status="deployed", active=None)
    page = staff.get(reverse("panel-runs"), {"status": "deployed", "trigger": "schedule"})
    assert [r.trigger + r.status for r in page.context["page"].object_list] == ["scheduledeployed"]
    assert len(staff.get(reverse("panel-runs")).context["page"].object_list) == 3


def test_the_runs_table_pages_newest_first(staff):
    RetrainingRun.objects.bulk_create([RetrainingRun(trigger="api", status="skipped", active=None) for _ in range(25)])
    first = staff.get(reverse("panel-runs")).context["page"]
    second = staff.get(reverse("panel-runs"), {"page": 2}).context["page"]
    assert len(first.object_list) == 20
    assert len(second.object_list) == 5
    assert first.object_list[0].pk > second.object_list[0].pk


def test_a_policy_edit_is_recorded_as_a_new_row_and_applies_to_the_next_run(staff, staff_user):
    old = store.current_policy()
    response = staff.post(
        reverse("panel-policy"),
        {"primary_metric": "f1", "min_improvement": "0.02", "max_guard_drop": "0.05", "test": "bootstrap",
         "significance": "0.01", "return_significance": "0.005", "min_first_score": "0.7", "note": "stricter"},
    )  # fmt: skip
    assert response.status_code == 302
    new = store.current_policy()
    assert new.pk != old.pk
    assert PromotionPolicy.objects.filter(pk=old.pk, primary_metric="accuracy").exists()
    assert new.created_by == staff_user
    run, _ = store.start_run("manual")
    assert run.policy["primary_metric"] == "f1"
    assert run.policy["test"] == "bootstrap"
    assert run.policy["return_significance"] == 0.005


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("significance", "1.5", "the significance level must be strictly between 0 and 1"),
        ("significance", "0", "the significance level must be strictly between 0 and 1"),
        ("return_significance", "1", "the level to bring back a replaced model must be strictly between 0 and 1"),
        ("test", "mcnemar", "McNemar's test compares accuracy only: use the paired randomization test for f1"),
        ("test", "t-test", "Select a valid choice."),
        ("min_improvement", "-0.1", "the minimum improvement must be between 0 and 1"),
        ("max_guard_drop", "2", "the largest drop must be between 0 and 1"),
        ("min_first_score", "abc", "Enter a number."),
        ("primary_metric", "auc", "Select a valid choice."),
    ],
)
def test_it_rejects_an_invalid_policy_with_a_message_on_the_field(staff, field, value, error):
    data = {"primary_metric": "f1" if value == "mcnemar" else "accuracy", "min_improvement": "0",
            "max_guard_drop": "0.01", "test": "bootstrap", "significance": "0.05", "return_significance": "0.01",
            "min_first_score": "0.5", field: value}  # fmt: skip
    current = store.current_policy()
    response = staff.post(reverse("panel-policy"), data)
    assert response.status_code == 200
    assert error in response.context["form"].errors[field][0]
    assert error in response.content.decode().replace("&#x27;", "'")
    assert store.current_policy() == current


def test_a_schedule_preset_is_saved_on_the_beat_task(staff):
    response = staff.post(reverse("panel-schedule"), {"enabled": "on", "preset": "weekly"})
    assert response.status_code == 302
    task = PeriodicTask.objects.get(name=schedule.RETRAIN_TASK_NAME)
    assert schedule.expression_of(task.crontab) == "0 2 * * 1"
    page = staff.get(reverse("panel-schedule")).content.decode()
    assert "0 2 * * 1" in page
    assert "Monday" in page


def test_a_custom_cron_expression_can_switch_the_schedule_off(staff):
    staff.post(reverse("panel-schedule"), {"preset": "custom", "cron": "30  3 * * 1-5"})
    task = PeriodicTask.objects.get(name=schedule.RETRAIN_TASK_NAME)
    assert schedule.expression_of(task.crontab) == "30 3 * * 1-5"
    assert task.enabled is False
    assert "none: scheduled runs are off" in staff.get(reverse("panel-schedule")).content.decode()


@pytest.mark.parametrize(
    ("cron", "error"),
    [
        ("0 2 * *", "has 4 field(s); a cron expression has 5"),
        ("61 2 * * *", "minute '61' is not valid"),
        ("0 25 * * *", "hour '25' is not valid"),
        ("0 2 * * funday", "day-of-week 'funday' is not valid"),
        ("0 0 31 2 *", "never occurs in month_of_year"),
        ("", "enter a cron expression, or choose a preset"),
    ],
)
def test_it_rejects_an_invalid_cron_expression_saying_what_is_wrong(staff, cron, error):
    response = staff.post(reverse("panel-schedule"), {"enabled": "on", "preset": "custom", "cron": cron})
    assert response.status_code == 200
    assert error in response.context["form"].errors["cron"][0]
    assert schedule.schedule_state().expression == "0 2 * * *"


@pytest.mark.parametrize(
    "path",
    [
        "/admin/retraining/retrainingrun/",
        "/admin/retraining/promotionpolicy/",
        "/admin/predictor/deployment/",
        "/admin/predictor/servingprocess/",
        "/admin/django_celery_beat/periodictask/",
    ],
)
def test_the_admin_lists_every_record(client, db, path):
    from django.contrib.auth import get_user_model

    admin_user = get_user_model().objects.create_superuser("root", "root@example.com", "pw-root-123")
    client.force_login(admin_user)
    assert client.get(path).status_code == 200


def test_run_and_policy_history_are_read_only_in_the_admin(client, db):
    from django.contrib.auth import get_user_model

    admin_user = get_user_model().objects.create_superuser("root", "root@example.com", "pw-root-123")
    client.force_login(admin_user)
    run = RetrainingRun.objects.create(trigger="api")
    policy = store.current_policy()
    assert client.get("/admin/retraining/retrainingrun/add/").status_code == 403
    assert client.get("/admin/retraining/promotionpolicy/add/").status_code == 403
    assert client.get("/admin/predictor/deployment/add/").status_code == 403
    assert client.post(f"/admin/retraining/retrainingrun/{run.pk}/delete/", {"post": "yes"}).status_code == 403
    assert client.post(f"/admin/retraining/promotionpolicy/{policy.pk}/change/", {"note": "x"}).status_code == 403
    assert RetrainingRun.objects.filter(pk=run.pk).exists()
    page = client.get(f"/admin/retraining/retrainingrun/{run.pk}/change/")
    assert page.status_code == 200
    assert b'name="_save"' not in page.content


def test_a_run_says_which_class_counts_as_positive_and_which_labels_changed(staff):
    from retraining.notify import channels
    from retraining.panel import live

    run = RetrainingRun.objects.create(
        trigger="schedule",
        status="kept",
        active=None,
        policy={"primary_metric": "f1"},
        model_version="3",
        champion_version="2",
        challenger_metrics={"accuracy": 0.98, "f1": 0.41},
        champion_metrics={"accuracy": 0.98, "f1": 0.40},
        decision_rule="bootstrap",
        reasons=["f1: challenger 0.4100 vs champion 0.4000 (+0.0100), strictly better: passed"],
        positive_class="fraud",
        positive_reason="the rarer class in the training data (2.0% of 3000 rows)",
        labels={"data": ["fraud", "ok", "scam"], "champion": ["fraud", "ok"], "appeared": ["scam"], "disappeared": []},
    )
    said = "Precision, recall, F1 and ROC AUC are for the class 'fraud': the rarer class in the training data"

    page = html.unescape(staff.get(reverse("panel-run", args=[run.pk])).content.decode())
    assert said in page
    assert "new in this data: scam" in page
    assert said in channels.summary(run)[1]
    assert said in live.outcome(run)
    assert staff.get(f"/api/v1/runs/{run.pk}").json()["positive_class"] == "fraud"
    # A run made before the class was recorded says nothing about it: the product does not know.
    older = RetrainingRun.objects.create(
        trigger="cli", status="kept", active=None, challenger_metrics={"f1": 0.4}, reasons=["kept"]
    )
    assert "class" not in live.outcome(older)


def test_the_policy_form_refuses_a_positive_class_for_three_classes_and_takes_one_of_two(staff):
    data = {"primary_metric": "f1", "min_improvement": "0", "max_guard_drop": "0.01", "test": "bootstrap",
            "significance": "0.005", "return_significance": "0.001", "min_first_score": "0.5"}  # fmt: skip
    run = RetrainingRun.objects.create(trigger="cli", status="kept", active=None, labels={"data": ["a", "b", "c"]})

    response = staff.post(reverse("panel-policy"), {**data, "positive_class": "a"})
    assert (
        "has 3 classes (a, b, c): a positive class applies to two classes only"
        in (response.context["form"].errors["positive_class"][0])
    )

    run.labels = {"data": ["fraud", "ok"]}
    run.save()
    assert (
        "is not a class"
        in staff.post(reverse("panel-policy"), {**data, "positive_class": "fraude"})
        .context["form"]
        .errors["positive_class"][0]
    )
    assert staff.post(reverse("panel-policy"), {**data, "positive_class": "fraud"}).status_code == 302
    assert store.current_policy().as_dict()["positive_class"] == "fraud"


def test_a_runs_page_shows_how_its_data_was_read_and_each_columns_kind(staff):
    run = RetrainingRun.objects.create(
        trigger="schedule",
        status="deployed",
        active=None,
        dataset={"path": "data", "rev": "abcdef1234567", "md5": "d41d8cd9.dir", "size": None},
        estimator="random_forest",
        lineage={
            "read_as": {"format": "CSV", "separator": ";", "decimal": ",", "encoding": "cp1252", "files": 3},
            "declared": {"file": "data.schema.yaml@abcdef123456", "columns": {"plan_code": "categorical"}},
            "columns": {
                "columns": {
                    "plan_code": {"kind": "categorical", "origin": "declared"},
                    "note": {"kind": "text", "origin": "inferred"},
                    "churned": {"kind": "target", "origin": "setting"},
                },
                "timed": [],
            },
            "unlabelled_left_out": 5,
        },
    )
    page = staff.get(reverse("panel-run", args=[run.pk])).content.decode()
    for shown in (
        "CSV, separator &#x27;;&#x27;, decimal &#x27;,&#x27;, encoding cp1252, files 3",
        "data.schema.yaml@abcdef123456",
        "plan_code (declared)",
        "note (inferred)",
        "churned (setting)",
        "5 rows without a label left out",
    ):
        assert shown in page, shown  # fmt: skip


def test_a_runs_page_names_the_teams_pipeline_and_its_code_version(staff):
    made_by = {"path": "team.models:make_pipeline", "version": "team-models 1.4.0"}
    trained = RetrainingRun.objects.create(
        trigger="manual", status="kept", active=None, estimator="random_forest", lineage={"pipeline": made_by}
    )
    failed = RetrainingRun.objects.create(
        trigger="manual", status="failed", active=None, setup={"pipeline": "team.gone:make_pipeline"}
    )

    page = staff.get(reverse("panel-run", args=[trained.pk])).content.decode()
    assert "team.models:make_pipeline" in page
    assert "team-models 1.4.0" in page
    assert "random_forest" not in page
    page = staff.get(reverse("panel-run", args=[failed.pk])).content.decode()
    assert "team.gone:make_pipeline" in page
    assert "code version unknown" in page


def test_the_run_page_says_how_many_rows_came_from_feedback_from_whom_and_when(staff):
    feedback = {
        "file": "data/feedback-20261207T100000.csv",
        "rows": 40,
        "sources": {"key:shop": 30, "key:app": 10},
        "predicted_from": "2026-12-06T08:00:00+00:00",
        "predicted_to": "2026-12-07T09:00:00+00:00",
    }
    dataset = {"source": "r", "path": "data", "rev": "a" * 40, "md5": "d.dir", "size": None, "feedback": feedback}
    run = RetrainingRun.objects.create(trigger="drift", status="deployed", active=None, dataset=dataset)

    page = html.unescape(staff.get(reverse("panel-run", args=[run.pk])).content.decode())

    said = re.sub(r"<[^>]+>", "", page.split("data-run-feedback>")[1].split("</dd>")[0])
    assert "40 labelled predictions in data/feedback-20261207T100000.csv" in said
    assert "made 2026-12-06T08:00 .. 2026-12-07T09:00" in said
    assert "key:shop (30)" in said
    assert "key:app (10)" in said
    assert "not a random sample" in said


def test_the_run_page_says_how_the_rows_new_since_the_champions_data_were_weighted(staff):
    why = "the 300 of 2100 training rows new since champion v2's data (published feedback) weighted to carry 50%"
    recent = {"share": 0.5, "rows": 300, "of": 2100, "weight_share": 0.5, "weighted": True, "champion": "2"}
    fell_back = {**recent, "weighted": False, "why": "its final estimator takes no sample_weight"}
    runs = [
        RetrainingRun.objects.create(trigger="drift", status=status, active=None, lineage={"recent": record})
        for status, record in (("deployed", {**recent, "why": why}), ("kept", fell_back))
    ]

    said = [
        re.sub(r"<[^>]+>", "", html.unescape(staff.get(reverse("panel-run", args=[run.pk])).content.decode()))
        for run in runs
    ]

    assert "300 of 2100 training rows new since champion v2's data carried 50% of the fit" in said[0]
    assert why in said[0]
    assert "unweighted" in said[1]
    assert "its final estimator takes no sample_weight" in said[1]
