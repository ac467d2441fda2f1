"""Watching live serving: drift and live quality of the champion, and the runs they start
(retraining/monitoring/triggers.py), over the real database, MLflow registry and prediction log."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from predictor.models import DriftCheck
from retraining.models import RetrainingRun, TriggerSettings
from retraining.monitoring import triggers
from retraining.runs import store
from tests.support.monitoring import PENGUIN_FEATURES, log_profiled_penguins, log_traffic, serve

pytestmark = pytest.mark.django_db
DAY = timedelta(days=1)


@pytest.fixture
def champion(model_name) -> str:
    version = log_profiled_penguins()
    serve(version, {"accuracy": 0.95})
    return version


def finish(run: RetrainingRun) -> None:
    store.finish(run, RetrainingRun.Status.SKIPPED)


def test_inputs_like_the_training_data_are_recorded_as_no_drift_and_start_nothing(champion):
    log_traffic(champion, 600)

    looked = triggers.watch()

    assert looked.drift.verdict == "no drift"
    assert looked.drift.rows == 600
    assert DriftCheck.objects.get().version == champion
    assert looked.run is None
    assert not RetrainingRun.objects.exists()


def test_shifted_inputs_start_one_drift_run_that_names_the_features(champion):
    log_traffic(champion, 600, shift=2.0)

    looked = triggers.watch()

    run = looked.run
    assert looked.started
    assert run.trigger == "drift"
    assert run.status == "queued"
    assert looked.drift.drifted[0] == "body_mass_g"
    assert run.evidence["summary"].startswith("inputs drifted on body_mass_g")
    assert run.evidence["drift"]["check_id"] == looked.drift.pk
    assert run.evidence["drift"]["drifted"]["body_mass_g"]["psi"] >= 0.2
    assert run.evidence["champion_version"] == champion


def test_a_drift_run_waits_out_the_cool_down_then_starts_again(champion, settings):
    settings.DRIFT_WINDOW_HOURS = 48  # the same logged inputs are still in the window a day later
    log_traffic(champion, 600, shift=2.0)
    first = triggers.watch().run
    finish(first)

    again = triggers.watch()
    assert not again.started
    assert again.run == first
    assert "cool-down" in again.notes[-1]
    assert RetrainingRun.objects.count() == 1
    assert DriftCheck.objects.count() == 2  # the check itself is still recorded

    later = triggers.watch(timezone.now() + timedelta(hours=TriggerSettings.current().cooldown_hours, minutes=1))
    assert later.started
    assert RetrainingRun.objects.count() == 2


def test_a_trigger_switched_off_starts_nothing_but_the_check_is_recorded(champion):
    TriggerSettings.objects.filter(pk=TriggerSettings.current().pk).update(drift_enabled=False)
    log_traffic(champion, 600, shift=2.0)

    looked = triggers.watch()

    assert looked.drift.verdict == "drift"
    assert looked.run is None


def test_too_few_logged_inputs_give_no_verdict(champion, settings):
    settings.DRIFT_MIN_ROWS = 200
    log_traffic(champion, 50, shift=3.0)

    looked = triggers.watch()

    assert looked.drift.verdict == "not enough data"
    assert looked.run is None


def test_live_quality_fallen_significantly_starts_one_degradation_run_per_cool_down(champion):
    log_traffic(champion, 300, correct=0.6)  # holdout said 0.95

    first = triggers.watch()

    assert first.started
    assert first.run.trigger == "degradation"
    quality = first.run.evidence["degradation"]
    assert quality["fell"]
    assert (quality["labels"], quality["metric"]) == (300, "accuracy")
    assert quality["high"] < 0.95 - 0.05
    assert first.run.evidence["summary"] == f"live accuracy fell to {quality['live']:.3f} (holdout 0.950)"
    finish(first.run)

    for minutes in (1, 60, 23 * 60):
        assert not triggers.watch(timezone.now() + timedelta(minutes=minutes)).started
    assert RetrainingRun.objects.filter(trigger="degradation").count() == 1

    assert triggers.watch(timezone.now() + timedelta(hours=24, minutes=1)).started
    assert RetrainingRun.objects.filter(trigger="degradation").count() == 2


def test_live_quality_within_the_margin_or_with_too_few_labels_starts_nothing(champion):
    log_traffic(champion, 150, correct=0.2)  # far worse, but fewer labels than the 200 needed

    looked = triggers.watch()
    assert looked.quality.not_judged == "150 labels of the 200 needed"
    assert looked.run is None

    log_traffic(champion, 400, correct=1.0, seed=1)  # 430 right of 550: 0.78, against 0.95 - 0.2
    TriggerSettings.objects.filter(pk=1).update(degradation_margin=0.2)
    looked = triggers.watch()
    assert not looked.quality.fell, looked.quality.summary()
    assert looked.run is None


def test_a_champion_serving_as_its_holdout_said_is_not_called_degraded(champion):
    """A/A: labels drawn at the holdout's own accuracy never count as a fall, margin 0 included."""
    TriggerSettings.objects.filter(pk=TriggerSettings.current().pk).update(degradation_margin=0.0)
    log_traffic(champion, 1000, correct=0.95)

    looked = triggers.watch()

    assert looked.quality.live == pytest.approx(0.95)
    assert not looked.quality.fell
    assert looked.run is None


def test_nothing_is_checked_before_a_champion_is_served(model_name):
    looked = triggers.watch()

    assert looked.drift is None
    assert looked.notes == ["no champion is served yet, so there is no training profile to compare with"]


def check_drift(*args: str) -> list[str]:
    out = StringIO()
    call_command("check_drift", *args, stdout=out)
    return out.getvalue().splitlines()


def test_check_drift_without_a_file_checks_the_log_now_and_starts_the_run(champion):
    log_traffic(champion, 600, shift=2.0)

    lines = check_drift()

    assert lines[0].startswith(f"600 logged predictions of v{champion} since ")
    assert any(line.startswith("body_mass_g") and line.endswith("DRIFTED") for line in lines)
    assert lines[-1].startswith("started run #")
    assert RetrainingRun.objects.get().trigger == "drift"


def test_check_drift_no_trigger_records_the_check_only(champion):
    log_traffic(champion, 600, shift=2.0)

    lines = check_drift("--no-trigger")

    assert lines[-1].startswith("verdict: drift on body_mass_g")
    assert DriftCheck.objects.count() == 1
    assert not RetrainingRun.objects.exists()


def test_check_drift_on_the_log_names_what_is_missing(model_name):
    with pytest.raises(CommandError, match="no champion is served yet"):
        check_drift()
    with pytest.raises(CommandError, match="--model-version applies to --csv only"):
        check_drift("--model-version", "1")


def test_the_notification_of_a_drift_run_carries_its_evidence(champion):
    from retraining.notify import channels

    log_traffic(champion, 600, shift=2.0)
    run = triggers.watch().run

    _, body = channels.summary(run)

    assert "Started by the drift trigger: inputs drifted on body_mass_g" in body
    assert any(line.strip().startswith("- body_mass_g: PSI") for line in body.splitlines())


def test_beat_watches_every_monitor_interval(db, settings):
    from django_celery_beat.models import PeriodicTask

    from retraining.workers import schedule

    PeriodicTask.objects.filter(name=schedule.WATCH_TASK_NAME).delete()
    settings.MONITOR_INTERVAL = 45
    schedule.ensure_default_schedule()

    task = PeriodicTask.objects.get(name=schedule.WATCH_TASK_NAME)
    assert task.task == "retraining.tasks.watch_serving"
    assert (task.interval.every, task.interval.period) == (45, "seconds")
    assert task.enabled


def test_the_monitoring_api_shows_the_newest_check_in_full_and_the_history(champion, client, staff_user):
    log_traffic(champion, 600)
    triggers.watch()
    log_traffic(champion, 600, shift=2.0, seed=1)
    triggers.watch()
    client.force_login(staff_user)

    drift = client.get("/api/v1/monitoring").json()["drift"]

    latest = drift["latest"]
    assert latest["verdict"] == "drift"
    assert latest["version"] == champion
    assert latest["drifted"][0] == "body_mass_g"
    assert latest["features"]["body_mass_g"]["psi"] >= 0.2
    assert set(latest["predictions"]) >= {"psi", "p_value"}
    assert [check["verdict"] for check in drift["history"]] == ["drift", "no drift"]
    assert set(drift["history"][1]["psi"]) == {*PENGUIN_FEATURES, "predictions"}


def live_accuracy(rows: int, accuracy: float, rng) -> dict[str, float]:
    """Live accuracy on `rows` labels, as live_metrics gives it (Wilson's interval)."""
    from predictor.predlog import quality

    correct = int(rng.binomial(rows, accuracy))
    low, high = quality.wilson(correct, rows)
    return {"value": correct / rows, "low": low, "high": high}


def test_the_fall_rule_survives_an_a_a_test_and_catches_a_real_fall():
    """A/A: live labels at the accuracy the holdout measured on its own 500 noisy rows, 2,000 draws
    of 300 labels, the default margin: at most 5% called fallen. A/B: a real 15-point fall, 95% caught."""
    import numpy as np

    rng = np.random.default_rng(5)
    margin = TriggerSettings._meta.get_field("degradation_margin").default
    draws, false_alarms, caught, false_at_zero = 2000, 0, 0, 0
    for _ in range(draws):
        holdout = rng.binomial(500, 0.9) / 500
        same = live_accuracy(300, 0.9, rng)
        false_alarms += triggers.fell(same, holdout, margin)
        false_at_zero += triggers.fell(same, holdout, 0.0)
        caught += triggers.fell(live_accuracy(300, 0.75, rng), holdout, margin)

    assert false_alarms <= 0.05 * draws
    assert false_at_zero <= 0.10 * draws  # the holdout's own noise, uncovered by a margin
    assert caught >= 0.95 * draws
