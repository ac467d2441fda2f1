"""The panel's view of live serving: the Monitoring page, the dashboard's drift and quality
badges, the trigger settings, drifted data in the policy and a monitoring run's evidence, over
the real database, MLflow registry and prediction log (tests/support/monitoring.py)."""

import json
import re
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from predictor import predlog
from predictor.drift_check import check_log
from predictor.models import Deployment, DriftCheck
from predictor.serving import registry
from retraining.models import PromotionPolicy, RetrainingRun, TriggerSettings
from retraining.monitoring import triggers
from retraining.panel import figures, live
from retraining.runs import store
from tests.support.monitoring import PENGUIN_FEATURES, log_profiled_penguins, log_traffic, serve

pytestmark = pytest.mark.django_db
MONITORING = reverse("panel-monitoring")
TRIGGERS = reverse("panel-triggers")
# The trigger form as the panel posts it, with its defaults.
TRIGGER_FORM = {
    "drift_enabled": "on",
    "degradation_margin": "0.05",
    "min_labels": "200",
    "min_label_sources": "2",
    "min_label_share": "0.01",
    "cooldown_hours": "24",
}


@pytest.fixture(autouse=True)
def plain_static_files(settings) -> None:
    """Pages link their CSS through the manifest storage, which only `collectstatic` fills."""
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture
def staff(client, staff_user) -> Client:
    client.force_login(staff_user)
    return client


@pytest.fixture
def champion(model_name) -> str:
    version = log_profiled_penguins()
    serve(version, {"accuracy": 0.95, "f1": 0.95})
    return version


@pytest.fixture
def two_checks(champion) -> tuple[DriftCheck, DriftCheck]:
    """A check of inputs like the training data, then one after body mass moved by two sd."""
    log_traffic(champion, 600)
    calm = check_log()
    log_traffic(champion, 600, shift=2.0, seed=1)
    return calm, check_log()


def page(client: Client, url: str = MONITORING) -> str:
    response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


def json_script(html: str, element_id: str) -> dict:
    return json.loads(re.search(rf'<script id="{element_id}" type="application/json">(.*?)</script>', html, re.S)[1])


def row(html: str, attribute: str, value: str) -> str:
    return re.search(rf'<tr {attribute}="{value}"[^>]*>(.*?)</tr>', html, re.S)[1]


def text(html: str) -> str:
    """What a person reads: block elements apart, inline ones run into their words."""
    spaced = re.sub(r"</?(td|th|dt|dd|p|div|li|tr|h\d|br|section|table|ul|dl)\b[^>]*>", " ", html)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", spaced))


def badges(client: Client) -> dict:
    return client.get(reverse("panel-live")).json()["monitoring"]


# Who may see it ------------------------------------------------------------------------------


def test_the_monitoring_page_and_the_trigger_form_are_for_staff_only(client, regular_user):
    assert client.get(MONITORING)["Location"].startswith("/panel/login/?next=")
    client.force_login(regular_user)
    assert client.get(MONITORING).status_code == 403
    assert client.post(TRIGGERS, {"cooldown_hours": "1"}).status_code == 403
    assert TriggerSettings.current().cooldown_hours == 24.0
    assert client.get(reverse("panel-schedule")).status_code == 403


def test_the_nav_links_the_monitoring_page_from_every_page(staff):
    for name in ("panel-dashboard", "panel-runs", "panel-schedule"):
        assert f'<a href="{MONITORING}"' in page(staff, reverse(name))
    assert re.search(rf'<a href="{MONITORING}" class="active">Monitoring</a>', page(staff))


# Empty states ----------------------------------------------------------------------------------


def test_with_nothing_served_or_logged_every_part_says_what_is_missing(staff, settings):
    settings.PREDICTION_LOG_SAMPLE = 1.0
    settings.MONITOR_INTERVAL = 45

    shown = text(page(staff))

    assert "No drift check yet: beat checks every 45 s, or run manage.py check_drift." in shown
    assert "Nothing is served yet, so there is no training profile to compare with." in shown
    assert "No predictions logged yet." in shown
    assert "No model is served and nothing is logged yet." in shown
    assert "No model is served yet." in shown
    assert 'id="drift-data"' not in page(staff)
    assert badges(staff)["drift"] == {
        "kind": "none",
        "text": "Drift: no check yet",
        "title": "beat checks every 45 s, or run manage.py check_drift",
    }
    assert badges(staff)["quality"]["text"] == "Quality: no model served yet"


def test_a_prediction_log_switched_off_is_named_as_the_reason_nothing_is_logged(staff, settings):
    settings.PREDICTION_LOG_SAMPLE = 0.0
    assert "No predictions logged yet: the prediction log is off (PREDICTION_LOG_SAMPLE=0)." in text(page(staff))


def test_a_served_version_with_no_traffic_and_no_labels_says_so(staff, champion):
    shown = text(page(staff))

    assert f"v{champion} serving" in shown
    assert "No labelled predictions in the last 7 days: clients send the true label to POST /api/v1/feedback." in shown
    assert f"No predictions of v{champion} logged in the last day." in shown
    assert badges(staff)["quality"]["text"] == "Quality: waiting for labels (0 of 200)"


# Drift -----------------------------------------------------------------------------------------


def test_the_drift_chart_carries_every_checks_per_feature_psi_oldest_first_and_the_threshold(
    staff, two_checks, settings
):
    calm, drifted = two_checks

    chart = json_script(page(staff), "drift-data")

    assert chart["threshold"] == settings.DRIFT_PSI_THRESHOLD
    assert [check["verdict"] for check in chart["checks"]] == ["no drift", "drift"]
    keys = [series["key"] for series in chart["series"]]
    assert set(keys) == {*PENGUIN_FEATURES, "predictions"}
    assert chart["series"][keys.index("predictions")]["label"] == "predicted class mix"
    newest = chart["checks"][-1]
    assert newest["psi"]["body_mass_g"] == drifted.report["features"]["body_mass_g"]["psi"] >= 0.2
    assert newest["drifted"][0] == "body_mass_g"
    assert chart["checks"][0]["psi"]["body_mass_g"] == calm.report["features"]["body_mass_g"]["psi"] < 0.2


def test_the_newest_checks_table_shows_each_features_scores_and_which_drifted(staff, two_checks):
    _, drifted = two_checks

    html = page(staff)

    section = html[html.index("data-latest-check") :]
    assert re.search(r"data-latest-verdict>drift<", section)
    mass = row(section, "data-feature", "body_mass_g")
    scores = drifted.report["features"]["body_mass_g"]
    assert f"{scores['psi']:.3f}" in mass
    assert ("&lt; 0.0001" if scores["p_value"] < 0.0001 else f"{scores['p_value']:.4f}") in mass
    assert f"{scores['missing_share']:.3f} ({scores['reference_missing_share']:.3f})" in mass
    assert "numeric" in mass
    assert "drifted" in mass
    island = row(section, "data-feature", "island")
    assert "categorical" in island
    assert "drifted" not in island
    assert "predicted class mix" in section
    assert f"v{drifted.version}: 1200 logged predictions since" in text(section)


def test_unseen_categories_are_listed_in_their_features_row(staff, champion):
    from tests.support.monitoring import log_predictions, penguin_inputs

    frame = penguin_inputs(600)
    frame.loc[:59, "island"] = "Atlantis"
    log_predictions(champion, frame, frame["species"].tolist())
    check_log()

    island = row(page(staff), "data-feature", "island")

    assert "Atlantis" in island
    assert "drifted" in island


def test_the_drift_badge_says_none_or_names_the_drifted_features_with_the_time_and_rows(staff, champion):
    log_traffic(champion, 1200)
    calm = check_log()
    moment = timezone.localtime(calm.checked_at).strftime("%H:%M")

    assert badges(staff)["drift"]["text"] == f"Drift: none ({moment}, 1,200 rows)"
    assert badges(staff)["drift"]["kind"] == "ok"

    log_traffic(champion, 1200, shift=2.0, seed=1)
    drifted = check_log()
    badge = badges(staff)["drift"]

    assert badge["kind"] == "warn"
    assert badge["text"].startswith("Drift on body_mass_g")
    assert badge["text"].endswith(f"({timezone.localtime(drifted.checked_at):%H:%M}, 2,400 rows)")
    assert drifted.summary in badge["title"]


def test_a_check_of_a_version_no_longer_served_names_it(staff, two_checks):
    drifted = two_checks[1]
    Deployment.objects.create(model_name="m", version="2", source="pipeline", metrics={"accuracy": 0.9})

    badge = badges(staff)["drift"]

    assert badge["text"].endswith(f"(v{drifted.version}, {timezone.localtime(drifted.checked_at):%H:%M}, 1,200 rows)")


def test_a_check_with_too_few_rows_is_not_enough_data_in_neutral(staff, champion, settings):
    log_traffic(champion, 50, shift=3.0)
    check_log()

    badge = badges(staff)["drift"]

    assert (badge["kind"], badge["text"].split(" (")[0]) == ("none", "Drift: not enough data")


# Live quality ----------------------------------------------------------------------------------


def test_the_quality_badge_waits_for_the_labels_the_trigger_needs(staff, champion):
    log_traffic(champion, 150, correct=0.2)

    waiting = badges(staff)["quality"]
    assert (waiting["kind"], waiting["text"]) == ("none", "Quality: waiting for labels (150 of 200)")
    TriggerSettings.objects.filter(pk=TriggerSettings.current().pk).update(min_labels=100)
    assert badges(staff)["quality"]["text"] == "Live accuracy 0.20 vs holdout 0.95 (150 labels)"


@pytest.mark.parametrize(("correct", "kind"), [(0.6, "warn"), (0.95, "ok")])
def test_the_quality_badge_judges_live_accuracy_as_the_degradation_trigger_does(staff, champion, correct, kind):
    log_traffic(champion, 400, correct=correct)
    trigger = triggers.judge_quality(champion, TriggerSettings.current(), timezone.now())

    badge = badges(staff)["quality"]

    assert badge["kind"] == kind
    assert trigger.fell is (kind == "warn")
    assert badge["text"] == f"Live accuracy {trigger.live:.2f} vs holdout 0.95 (400 labels)"
    assert f"95% interval {trigger.low:.3f} to {trigger.high:.3f}" in badge["title"]


@pytest.mark.parametrize("correct", [0.6, 0.9, 0.97])
def test_the_quality_badge_scores_f1_from_counts_as_the_trigger_does_from_rows(champion, correct):
    """The badge's confusion-cell bootstrap against the trigger's row bootstrap: the same value,
    the same interval within the resampling noise, the same verdict."""
    PromotionPolicy.objects.create(primary_metric="f1")
    log_traffic(champion, 500, correct=correct, seed=3)
    now = timezone.now()
    trigger_settings = TriggerSettings.current()
    trigger = triggers.judge_quality(champion, trigger_settings, now)

    figure = figures.live_figure(Deployment.objects.get(version=champion), "f1", trigger_settings, now)

    assert figure.value == pytest.approx(trigger.live, abs=1e-12)
    assert figure.low == pytest.approx(trigger.low, abs=0.01)
    assert figure.high == pytest.approx(trigger.high, abs=0.01)
    assert figure.fell is trigger.fell
    shown = live.quality_badge(Deployment.objects.get(version=champion), now)["text"]
    assert shown == f"Live f1 {trigger.live:.2f} vs holdout 0.95 (500 labels)"


def test_a_primary_metric_the_counts_cannot_give_points_to_the_monitoring_page(staff, champion):
    PromotionPolicy.objects.create(primary_metric="roc_auc")
    Deployment.objects.filter(version=champion).update(metrics={"roc_auc": 0.99})
    log_traffic(champion, 300, correct=0.9)

    assert badges(staff)["quality"]["text"] == "Live roc_auc: on the Monitoring page (300 labels)"


def test_the_quality_table_shows_the_apis_live_figures_next_to_the_holdout(staff, champion):
    log_traffic(champion, 300, correct=0.8)
    expected = predlog.live_metrics(champion, timezone.now() - timedelta(days=1))["metrics"]["accuracy"]

    html = page(staff)

    table = html[html.index(f'data-quality-version="{champion}"') :]
    accuracy = re.search(r"<tr><td>accuracy</td>(.*?)</tr>", table, re.S)[1]
    assert "0.950" in accuracy  # the holdout
    assert f"{expected['value']:.3f}" in accuracy
    assert f"[{expected['low']:.3f}, {expected['high']:.3f}]" in accuracy
    assert "(300 labels)" in table


def test_the_dashboards_first_paint_shows_the_badges_its_poll_returns(staff, two_checks):
    log_traffic(two_checks[1].version, 300, correct=0.6, seed=2)
    polled = badges(staff)

    html = page(staff, reverse("panel-dashboard"))

    for part, marker in (("drift", "data-drift-badge"), ("quality", "data-quality-badge")):
        shown = re.search(rf'<a class="mbadge mbadge-(\w+)" {marker} href="([^"]+)" title="[^"]*">([^<]*)</a>', html)
        assert shown.groups() == (polled[part]["kind"], MONITORING, polled[part]["text"])
    assert polled["quality"]["kind"] == "warn"


# Volume and class mix --------------------------------------------------------------------------


def test_volume_per_version_and_per_hour_come_from_the_log(staff, champion):
    now = timezone.now()
    log_traffic(champion, 30)
    log_traffic(champion, 20, at=now - timedelta(hours=5))
    log_traffic("0", 7, at=now - timedelta(days=2))

    html = page(staff)

    counts = re.findall(r'<td class="num">(\d+)</td>', row(html, "data-volume-version", champion))
    assert [int(n) for n in counts] == [30, 50, 50]
    assert "<td>v0</td>" in row(html, "data-volume-version", "0")
    hourly = json_script(html, "volume-data")
    assert len(hourly["hours"]) == 24
    assert list(hourly["versions"]) == [champion]
    assert hourly["versions"][champion][-1] == 30
    assert hourly["versions"][champion][-6] == 20
    assert sum(hourly["versions"][champion]) == 50


def test_the_class_mix_compares_the_served_shares_with_the_holdouts(staff, champion):
    log_traffic(champion, 400)
    served = predlog.logged_inputs(timezone.now() - timedelta(days=1), version=champion)["prediction"].value_counts()
    holdout = registry.profile(champion)["predictions"]["counts"]

    html = page(staff)

    for name, count in served.items():
        shown = row(html, "data-class", name)
        assert f"{round(100 * count / 400)}%" in shown
        assert f"{round(100 * holdout[name] / sum(holdout.values()))}%" in shown
    assert "Served (400)" in html


def test_a_version_without_a_holdout_profile_shows_its_mix_alone(staff, champion, settings):
    Deployment.objects.create(model_name="m", version="999", source="bootstrap", metrics={"accuracy": 0.9})
    log_traffic("999", 40)

    section = page(staff)
    section = section[section.index("data-class-mix") :]

    assert "v999, last day" in section
    assert "No holdout mix to compare with: the training profile could not be read" in text(section)


# Trigger settings ------------------------------------------------------------------------------


def test_trigger_settings_are_saved_with_who_changed_them(staff, staff_user):
    response = staff.post(
        TRIGGERS,
        {**TRIGGER_FORM, "degradation_margin": "0.1", "min_labels": "50", "cooldown_hours": "6"}
        | {"min_label_sources": "3", "min_label_share": "0.05"},
    )

    assert response["Location"] == reverse("panel-schedule")
    saved = TriggerSettings.current()
    assert (saved.drift_enabled, saved.degradation_enabled) == (True, False)
    assert (saved.degradation_margin, saved.min_labels, saved.cooldown_hours) == (0.1, 50, 6.0)
    assert (saved.min_label_sources, saved.min_label_share) == (3, 0.05)
    assert saved.updated_by == staff_user
    shown = text(page(staff, reverse("panel-schedule")))
    assert "Changed by alice" in shown
    assert "Start a run when live inputs drift" in shown
    assert (
        "Degradation needs live quality more than 0.1 below the holdout score (upper 95% bound), judged on at "
        "least 50 labels; the labels given by at least 3 sources (API keys, or client addresses when keys are "
        "off) and on more than 5% of the window"
    ) in shown


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("degradation_margin", "1.5", "the margin must be between 0 and 1 (got 1.5)"),
        ("degradation_margin", "-0.1", "the margin must be between 0 and 1 (got -0.1)"),
        ("min_labels", "0", "at least 1 label is needed to judge live quality"),
        ("min_label_sources", "0", "at least 1 source is needed"),
        (
            "min_label_share",
            "1",
            "the share must be at least 0 and below 1 (got 1): labels cover at most every prediction",
        ),
        (
            "min_label_share",
            "-0.1",
            "the share must be at least 0 and below 1 (got -0.1): labels cover at most every prediction",
        ),
        ("cooldown_hours", "0", "the cool-down must be more than 0 hours (got 0)"),
        ("cooldown_hours", "-2", "the cool-down must be more than 0 hours (got -2)"),
        ("cooldown_hours", "soon", "Enter a number."),
    ],
)
def test_invalid_trigger_settings_are_refused_with_the_error_next_to_the_field(staff, field, value, error):
    data = TRIGGER_FORM

    response = staff.post(TRIGGERS, {**data, field: value})

    assert response.status_code == 200
    html = response.content.decode()
    (shown,) = [part for part in html.split('<div class="field') if f'id="id_{field}"' in part]
    assert shown.startswith(" has-error")
    assert f'<ul class="errorlist" id="id_{field}_error"><li>{error}</li></ul>' in shown
    assert TriggerSettings.current().updated_by is None
    assert "Save schedule" in html  # the rest of the schedule page is still there


def test_the_schedule_page_says_when_the_last_monitoring_runs_started_and_the_next_may(staff, champion):
    shown = text(page(staff, reverse("panel-schedule")))
    assert "Last run: drift in live inputs never" in shown
    assert "Next possible now, when a trigger fires" in shown

    log_traffic(champion, 600, shift=2.0)
    run = triggers.watch().run
    store.finish(run, RetrainingRun.Status.SKIPPED)

    html = page(staff, reverse("panel-schedule"))
    shown = text(html)
    until = timezone.localtime(run.created_at + timedelta(hours=24))
    assert f"Last run: drift in live inputs run #{run.pk} started" in shown
    assert "Last run: live quality fell never" in shown
    assert f"Next possible after {until:%b} {until.day}, {until:%Y %H:%M}" in shown
    assert "cool-down" in shown

    RetrainingRun.objects.filter(pk=run.pk).update(created_at=timezone.now() - timedelta(hours=25))
    assert "Next possible now, when a trigger fires" in text(page(staff, reverse("panel-schedule")))


# The policy's drifted data ---------------------------------------------------------------------


def test_the_policy_form_can_reject_drifted_data(staff):
    form = page(staff, reverse("panel-policy"))
    assert "Reject new data that drifted (instead of a warning on the run)" in form

    unchanged = {name: value for name, value in store.current_policy().as_dict().items() if name != "id"}
    staff.post(reverse("panel-policy"), {**unchanged, "reject_on_drift": "on", "note": "drift: look first"})

    assert store.current_policy().reject_on_drift is True
    assert "rejects drifted data" in page(staff, reverse("panel-policy"))
    assert "Drifted new data rejected" in text(page(staff, reverse("panel-dashboard")))


# A monitoring run's evidence -------------------------------------------------------------------


def test_a_drift_runs_page_says_why_it_started_with_the_checks_scores(staff, champion):
    log_traffic(champion, 600, shift=2.0)
    looked = triggers.watch()

    html = page(staff, reverse("panel-run", args=[looked.run.pk]))

    card = html[html.index("data-evidence") :]
    headline = re.search(r"data-evidence-headline><strong>([^<]*)<", card)[1]
    assert headline == f"Started by drift: {looked.run.evidence['summary']}"
    assert headline.startswith("Started by drift: inputs drifted on body_mass_g")
    mass = row(card, "data-feature", "body_mass_g")
    assert f"{looked.drift.report['features']['body_mass_g']['psi']:.3f}" in mass
    assert "drifted" in mass
    assert "drifted" not in row(card, "data-feature", "island")
    assert f"champion v{champion}" in card
    assert "600 logged predictions of" in text(card)


def test_a_drift_run_whose_check_was_pruned_still_shows_the_drifted_features(staff, champion):
    log_traffic(champion, 600, shift=2.0)
    run = triggers.watch().run
    DriftCheck.objects.all().delete()

    card = page(staff, reverse("panel-run", args=[run.pk]))
    card = card[card.index("data-evidence") :]

    assert "the check itself was pruned with the prediction log" in card
    mass = row(card, "data-feature", "body_mass_g")
    assert f"{run.evidence['drift']['drifted']['body_mass_g']['psi']:.3f}" in mass
    assert "drifted" in mass
    assert 'data-feature="island"' not in card


def test_a_degradation_runs_page_shows_the_live_figures_against_the_holdout(staff, champion):
    log_traffic(champion, 300, correct=0.6)
    run = triggers.watch().run
    fell = run.evidence["degradation"]

    card = page(staff, reverse("panel-run", args=[run.pk]))
    card = card[card.index("data-evidence") :]

    assert f"Started by degradation: live accuracy fell to {fell['live']:.3f} (holdout 0.950)" in card
    figures = text(card[card.index("data-degradation") :])
    assert f"Live accuracy {fell['live']:.3f} 95% interval {fell['low']:.3f} to {fell['high']:.3f}" in figures
    assert f"Holdout accuracy 0.950 (v{champion} at deployment)" in figures
    assert "Labels 300 labelled predictions since" in figures


def test_a_run_started_by_a_person_shows_no_evidence(staff):
    run = RetrainingRun.objects.create(trigger="manual", status="skipped", active=None)
    assert "data-evidence" not in page(staff, reverse("panel-run", args=[run.pk]))


def test_the_runs_filter_lists_and_finds_the_monitoring_triggers(staff, champion):
    log_traffic(champion, 600, shift=2.0)
    drift_run = triggers.watch().run
    store.finish(drift_run, RetrainingRun.Status.SKIPPED)
    RetrainingRun.objects.create(trigger="manual", status="skipped", active=None)

    html = page(staff, reverse("panel-runs"))
    assert '<option value="drift" >Drift in live inputs</option>' in html
    assert '<option value="degradation" >Live quality fell</option>' in html

    found = staff.get(reverse("panel-runs"), {"trigger": "drift"}).context["page"].object_list
    assert [run.pk for run in found] == [drift_run.pk]
    assert "Drift in live inputs" in row(page(staff, reverse("panel-runs")), "data-run-row", str(drift_run.pk))
